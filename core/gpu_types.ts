/**
 * The types of the GPU layer's interface (`core/gpu.ts` re-exports them): what a dispatch
 * binds, the pool's counters, and one planned buffer-to-texture copy.
 *
 * @module
 */

/** A window of a buffer bound to one shader binding (offset and size in bytes). */
export interface BufferWindow {
  /** The buffer the window lies in. */
  buffer: GPUBuffer;
  /** Start of the window, in bytes (a multiple of the device's `offsetAlign`). */
  offset: number;
  /** Length of the window, in bytes. */
  size: number;
}

/** Something a dispatch can bind: a whole buffer or a window of one. */
export type Binding = GPUBuffer | BufferWindow;

/** Anything `dispatch` binds: a buffer, a window of one, or a texture view. */
export type Bindable = Binding | GPUTextureView;

/** Counters that show whether the engine leaks: live buffers and bytes handed out. */
export interface GpuStats {
  /** Buffers handed out by `acquire` and not yet released. */
  liveBuffers: number;
  /** Bytes of the live buffers (their bucketed sizes, not the sizes asked for). */
  liveBytes: number;
  /** Released buffers waiting in the pool for reuse. */
  pooledBuffers: number;
  /** Bytes of the pooled buffers. */
  pooledBytes: number;
  /** Buffers created on the device since start (pool misses; readback staging excluded). */
  createdBuffers: number;
  /** Compiled compute pipelines in the cache (one per distinct WGSL source). */
  pipelines: number;
  /** Compute dispatches recorded since start. */
  dispatches: number;
  /** Command buffers submitted to the queue since start. */
  submits: number;
  /** Host-to-GPU uploads (`upload` calls) since start. */
  uploads: number;
  /** Textures handed out by `acquireTexture` and not yet released. */
  liveTextures: number;
  /** Released textures waiting in the pool for reuse. */
  pooledTextures: number;
  /** Textures created on the device since start (pool misses). */
  createdTextures: number;
}

/** One buffer-to-texture copy of `Gpu.copyToTexture` (what `texture_layout.ts` plans). */
export interface TextureCopy {
  /** Byte offset of the first row in the source (from the caller's base). */
  offset: number;
  /** Bytes from one row to the next in the source (a multiple of 256). */
  bytesPerRow: number;
  /** Rows copied (per layer). */
  rows: number;
  /** Destination row. */
  y: number;
  /** Destination layer (the first of `layers`). */
  layer: number;
  /** Texels per row copied. */
  width: number;
  /** Layers filled (default 1). */
  layers?: number;
}
