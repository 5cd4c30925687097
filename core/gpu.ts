/**
 * The GPU layer: one adapter and device per process, a buffer pool keyed by size, a
 * compute-pipeline cache keyed by shader source, a pending command encoder that batches
 * every dispatch until something must be read back, upload and async readback.
 *
 * Nothing here knows about tensors; `core/tensor.ts` builds on it. The interface types live in
 * `gpu_types.ts`.
 */

import type { DispatchHook } from "./gpu_hook.ts";
import { assertGpuAllowed, ensureRuntimeDir, NO_ADAPTER } from "./gpu_env.ts";
import { measureTextureReads } from "./gpu_reads.ts";
import { submitAtStepEnd } from "./gpu_submit.ts";

export type { DispatchHook, RecordedDispatch } from "./gpu_hook.ts";
export { assertGpuAllowed, ensureRuntimeDir, NO_ADAPTER } from "./gpu_env.ts";
export type { Bindable, Binding, BufferWindow, GpuStats, TextureCopy } from "./gpu_types.ts";
import type { Bindable, GpuStats, TextureCopy } from "./gpu_types.ts";
import { adapterVariant, bucketSize, texBucket } from "./gpu_sizes.ts";
export { adapterVariant, bucketSize } from "./gpu_sizes.ts";

const USAGE = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
const TEX_USAGE = GPUTextureUsage.TEXTURE_BINDING | GPUTextureUsage.STORAGE_BINDING |
  GPUTextureUsage.COPY_DST;

/** The process-wide GPU context. Get it with `initGpu()` once, then `gpu()` anywhere. */
export class Gpu {
  /** The WebGPU device every buffer, pipeline and dispatch belongs to. */
  readonly device: GPUDevice;
  /** What the adapter reports about itself (vendor, architecture, description). */
  readonly info: GPUAdapterInfo;
  /** The kernel family: "cpu" on software adapters, "gpu" on real ones (`adapterVariant`). */
  readonly variant: "cpu" | "gpu";
  /** Largest byte size one storage binding may cover on this device. */
  readonly maxBindingBytes: number;
  /** Largest byte size of one buffer (`maxBufferSize`); `acquire` throws above it. */
  readonly maxBufferBytes: number;
  /** Alignment, in bytes, of a binding's offset (`minStorageBufferOffsetAlignment`). */
  readonly offsetAlign: number;
  /** `maxTextureDimension2D` of the device. */
  readonly maxTextureDim: number;
  /** `maxTextureArrayLayers` of the device. */
  readonly maxTextureLayers: number;
  /** Whether the device was created with `timestamp-query` (profiling with timestamps). */
  readonly timestamps: boolean;
  /**
   * Whether memory-bound kernels read large inputs through textures (`core/gpu_reads.ts`
   * measures it at `initGpu()`; `core/ops/texture_read.ts` `setTextureReads` overrides it).
   */
  textureReads = false;
  #free = new Map<number, GPUBuffer[]>();
  #freeTex = new Map<string, GPUTexture[]>();
  #views = new WeakMap<GPUTexture, GPUTextureView>();
  /** Textures kept out of the pool until the next submit (`pinUntilSubmit`), with bytes. */
  #pinned = new Map<GPUTexture, number>();
  #pinnedBytes = 0;
  #sizes = new WeakMap<GPUBuffer, number>();
  #pipelines = new Map<string, GPUComputePipeline>();
  #encoder: GPUCommandEncoder | null = null;
  #pass: GPUComputePassEncoder | null = null;
  #lost: string | null = null;
  #error: string | null = null;
  #hook: DispatchHook | null = null;
  /** Upload staging buffers of the pending encoder, destroyed once it is submitted. */
  #staging: GPUBuffer[] = [];
  /** Bytes of those staging buffers (`gpu_submit.ts` caps them). */
  #stagingBytes = 0;
  /** Commands recorded since the last submit. */
  #pendingCommands = 0;
  /** Per buffer, the count of the last command recorded that may change it (`version`). */
  #versions = new WeakMap<GPUBuffer, number>();
  #writes = 0;
  /** Per kernel source, the bindings it declares `read_write` (the ones it may change). */
  #written = new Map<string, number[]>();
  #stats = {
    liveBuffers: 0,
    liveBytes: 0,
    createdBuffers: 0,
    dispatches: 0,
    submits: 0,
    uploads: 0,
    liveTextures: 0,
    createdTextures: 0,
  };

  /** Wraps an acquired device; use `initGpu()`, which requests the limits the engine needs. */
  constructor(device: GPUDevice, info: GPUAdapterInfo) {
    this.device = device;
    this.info = info;
    this.variant = adapterVariant(info);
    // WEBGPU_MAX_BINDING_BYTES lowers the limit, so tests can exercise the splitting paths.
    const cap = Number(Deno.env.get("WEBGPU_MAX_BINDING_BYTES") ?? Infinity);
    this.maxBindingBytes = Math.min(device.limits.maxStorageBufferBindingSize, cap);
    this.maxBufferBytes = device.limits.maxBufferSize;
    this.offsetAlign = device.limits.minStorageBufferOffsetAlignment;
    this.maxTextureDim = device.limits.maxTextureDimension2D;
    this.maxTextureLayers = device.limits.maxTextureArrayLayers;
    this.timestamps = device.features.has("timestamp-query");
    device.lost.then((info) => {
      this.#lost = `GPU device lost (${info.reason}): ${info.message || "no message"}`;
    });
    device.addEventListener("uncapturederror", (e) => {
      const msg = (e as GPUUncapturedErrorEvent).error.message;
      if (!this.#error) this.#error = msg;
    });
  }

  /** Throws a clear error if the device was lost or a GPU validation error happened. */
  check(): void {
    if (this.#lost) throw new Error(`${this.#lost}; restart the process to get a new device`);
    if (this.#error) {
      const e = this.#error;
      this.#error = null;
      throw new Error(`GPU error: ${e}`);
    }
  }

  /** A buffer of at least `bytes` bytes from the pool (contents undefined). */
  acquire(bytes: number): GPUBuffer {
    const size = bucketSize(bytes);
    if (size > this.maxBufferBytes) {
      throw new Error(
        `tensor of ${bytes} bytes exceeds this adapter's maxBufferSize (${this.maxBufferBytes})`,
      );
    }
    const list = this.#free.get(size);
    let buf = list?.pop();
    if (!buf) {
      this.check();
      buf = this.device.createBuffer({ size, usage: USAGE });
      this.#sizes.set(buf, size);
      this.#stats.createdBuffers++;
    }
    this.#stats.liveBuffers++;
    this.#stats.liveBytes += size;
    this.#wrote(buf); // a new owner: whatever was derived from the old one is stale
    return buf;
  }

  /**
   * A number that changes whenever a command that may write `buf` is recorded (a dispatch
   * binding it `read_write`, a copy or clear into it, an upload) and when the pool hands it
   * out again: what was derived from a buffer at one version still holds while the version
   * is unchanged (Winograd caches a frozen layer's transformed weights this way).
   */
  version(buf: GPUBuffer): number {
    return this.#versions.get(buf) ?? 0;
  }

  #wrote(buf: GPUBuffer): void {
    this.#versions.set(buf, ++this.#writes);
  }

  /** Returns a buffer to the pool. Commands already recorded that use it still see it. */
  release(buf: GPUBuffer): void {
    const size = this.#sizes.get(buf)!;
    this.#stats.liveBuffers--;
    this.#stats.liveBytes -= size;
    let list = this.#free.get(size);
    if (!list) this.#free.set(size, list = []);
    list.push(buf);
  }

  /**
   * An `rgba32float` 2-D array texture of at least `width` × `height` texels and exactly
   * `layers` layers from the pool (contents undefined; usable as a sampled or storage
   * texture and as a copy destination).
   */
  acquireTexture(width: number, height: number, layers: number): GPUTexture {
    const max = this.maxTextureDim;
    if (width > max || height > max || layers > this.maxTextureLayers) {
      throw new Error(`texture ${width}×${height}×${layers} exceeds this adapter's limits`);
    }
    const w = texBucket(width, max), h = texBucket(height, max);
    const key = `${w}x${h}x${layers}`;
    let tex = this.#freeTex.get(key)?.pop();
    if (!tex) {
      this.check();
      tex = this.device.createTexture({
        size: [w, h, layers],
        format: "rgba32float",
        usage: TEX_USAGE,
      });
      this.#stats.createdTextures++;
    }
    this.#stats.liveTextures++;
    return tex;
  }

  /**
   * Returns a texture to the pool. Commands already recorded that use it still see it. A
   * pinned texture (`pinUntilSubmit`) goes back at the next submit instead.
   */
  releaseTexture(tex: GPUTexture): void {
    if (this.#pinned.has(tex)) return;
    this.#stats.liveTextures--;
    const key = `${tex.width}x${tex.height}x${tex.depthOrArrayLayers}`;
    let list = this.#freeTex.get(key);
    if (!list) this.#freeTex.set(key, list = []);
    list.push(tex);
  }

  /**
   * Keeps an acquired texture out of the pool until the next submit, so that what was
   * recorded into it can be read again by later commands of the same submission (flat
   * copies of unchanged buffers, `texture_read.ts`): releases before then are ignored, and
   * the submit returns it to the pool. False (nothing pinned) where that would pin more than
   * `budget` bytes.
   */
  pinUntilSubmit(tex: GPUTexture, bytes: number, budget: number): boolean {
    if (this.#pinned.has(tex)) return true;
    if (this.#pinnedBytes + bytes > budget) return false;
    this.#pinned.set(tex, bytes);
    this.#pinnedBytes += bytes;
    return true;
  }

  /** Submits so far: what was recorded since the last one is one submission. */
  get submitCount(): number {
    return this.#stats.submits;
  }

  /** The 2-D array view of a texture (cached). */
  view(tex: GPUTexture): GPUTextureView {
    let v = this.#views.get(tex);
    if (!v) this.#views.set(tex, v = tex.createView({ dimension: "2d-array" }));
    return v;
  }

  /** Destroys every pooled (unused) buffer and texture. */
  trim(): void {
    this.flush();
    for (const list of this.#free.values()) for (const b of list) b.destroy();
    this.#free.clear();
    for (const list of this.#freeTex.values()) for (const t of list) t.destroy();
    this.#freeTex.clear();
  }

  /** Current counters. */
  stats(): GpuStats {
    let pooledBuffers = 0, pooledBytes = 0, pooledTextures = 0;
    for (const [size, list] of this.#free) {
      pooledBuffers += list.length;
      pooledBytes += size * list.length;
    }
    for (const list of this.#freeTex.values()) pooledTextures += list.length;
    return {
      ...this.#stats,
      pooledBuffers,
      pooledBytes,
      pooledTextures,
      pipelines: this.#pipelines.size,
    };
  }

  /** The compiled pipeline for a WGSL source (entry point `main`), cached by source. */
  pipeline(code: string): GPUComputePipeline {
    let p = this.#pipelines.get(code);
    if (!p) {
      this.check();
      const module = this.device.createShaderModule({ code });
      p = this.device.createComputePipeline({ layout: "auto", compute: { module } });
      this.#pipelines.set(code, p);
    }
    return p;
  }

  /**
   * Installs a hook that observes every command recorded from now on (null removes it);
   * returns the previous one. Flushes first, so the hook sees whole encoders.
   */
  setHook(hook: DispatchHook | null): DispatchHook | null {
    this.flush();
    const old = this.#hook;
    this.#hook = hook;
    return old;
  }

  #encoderNow(): GPUCommandEncoder {
    return this.#encoder ??= this.device.createCommandEncoder();
  }

  #passNow(): GPUComputePassEncoder {
    return this.#pass ??= this.#encoderNow().beginComputePass();
  }

  #endPass(): void {
    this.#pass?.end();
    this.#pass = null;
  }

  /** Records one dispatch of `code` with `bindings` at @group(0) @binding(0..n-1). */
  dispatch(code: string, bindings: Bindable[], workgroups: [number, number?, number?]): void {
    const pipeline = this.pipeline(code);
    let written = this.#written.get(code);
    if (!written) {
      written = [...code.matchAll(/@binding\((\d+)\)\s*var<storage,\s*read_write>/g)].map((m) =>
        Number(m[1])
      );
      this.#written.set(code, written);
    }
    for (const i of written) {
      const b = bindings[i];
      if (b && !(b instanceof GPUTextureView)) this.#wrote(b instanceof GPUBuffer ? b : b.buffer);
    }
    const entries = bindings.map((b, i) =>
      b instanceof GPUBuffer
        ? { binding: i, resource: { buffer: b } }
        : b instanceof GPUTextureView
        ? { binding: i, resource: b }
        : { binding: i, resource: { buffer: b.buffer, offset: b.offset, size: b.size } }
    );
    const bindGroup = this.device.createBindGroup({
      layout: pipeline.getBindGroupLayout(0),
      entries,
    });
    const wg: [number, number, number] = [workgroups[0], workgroups[1] ?? 1, workgroups[2] ?? 1];
    this.#stats.dispatches++;
    this.#pendingCommands++;
    const tw = this.#hook?.dispatch({ code, pipeline, bindGroup, workgroups: wg });
    if (tw) this.#endPass();
    const pass = tw
      ? this.#encoderNow().beginComputePass({ timestampWrites: tw })
      : this.#passNow();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(wg[0], wg[1], wg[2]);
    if (tw) pass.end();
  }

  /** Records a buffer-to-buffer copy (byte offsets and size). */
  copy(src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, bytes: number): void {
    this.#endPass();
    this.#hook?.command("copy");
    this.#pendingCommands++;
    this.#wrote(dst);
    this.#encoderNow().copyBufferToBuffer(src, srcOffset, dst, dstOffset, bytes);
  }

  /**
   * Records a copy into an `rgba32float` texture: `c.rows` rows of `c.width` texels from
   * `src` at byte `base + c.offset` (a multiple of 16; `c.bytesPerRow`, a multiple of 256,
   * from one row to the next) to row `c.y` of layer `c.layer` — and of the `c.layers − 1`
   * layers after it, `c.rows` rows each, following on in `src`, when more than one.
   */
  copyToTexture(src: GPUBuffer, base: number, c: TextureCopy, tex: GPUTexture): void {
    this.#endPass();
    this.#hook?.command("copyToTexture");
    this.#pendingCommands++;
    this.#encoderNow().copyBufferToTexture(
      { buffer: src, offset: base + c.offset, bytesPerRow: c.bytesPerRow, rowsPerImage: c.rows },
      { texture: tex, origin: [0, c.y, c.layer] },
      [c.width, c.rows, c.layers ?? 1],
    );
  }

  /** Records zero-filling of a byte range. */
  clear(buf: GPUBuffer, offset = 0, bytes?: number): void {
    this.#endPass();
    this.#hook?.command("clear");
    this.#pendingCommands++;
    this.#wrote(buf);
    this.#encoderNow().clearBuffer(buf, offset, bytes);
  }

  /** The end of a step (an outermost `tidy`): submits now, or records on (`gpu_submit.ts`). */
  stepDone(): void {
    if (submitAtStepEnd(this.variant, this.#pendingCommands, this.#stagingBytes)) this.flush();
  }

  /** Submits everything recorded so far (does not wait). */
  flush(): void {
    if (!this.#encoder) return;
    this.#endPass();
    this.#hook?.beforeSubmit(this.#encoder);
    this.device.queue.submit([this.#encoder.finish()]);
    this.#encoder = null;
    this.#pendingCommands = this.#stagingBytes = 0;
    this.#stats.submits++;
    const pinned = [...this.#pinned.keys()];
    this.#pinned.clear();
    this.#pinnedBytes = 0;
    for (const t of pinned) this.releaseTexture(t);
    // Destroying a buffer that submitted work still reads is deferred until that work ends.
    for (const b of this.#staging) b.destroy();
    this.#staging = [];
  }

  /**
   * Writes `data` into `buf` at `offset`, ordered after every command recorded so far and
   * before every later one: it is recorded as a copy from a staging buffer into the pending
   * encoder (no submit). `queue.writeBuffer` would run ahead of the pending commands and so
   * need a flush first, and in Deno on Mesa's software adapter a submit while the GPU is busy
   * waits for the work in flight: a step with three uploads could not be recorded ahead.
   */
  upload(buf: GPUBuffer, data: ArrayBufferView, offset = 0): void {
    const bytes = new Uint8Array(data.buffer as ArrayBuffer, data.byteOffset, data.byteLength);
    // Copies move multiples of 4 bytes; float32 and int32 data always are.
    const size = Math.ceil(bytes.byteLength / 4) * 4;
    if (size === 0) return;
    this.check();
    const staging = this.device.createBuffer({
      size,
      usage: GPUBufferUsage.MAP_WRITE | GPUBufferUsage.COPY_SRC,
      mappedAtCreation: true,
    });
    new Uint8Array(staging.getMappedRange()).set(bytes);
    staging.unmap();
    this.copy(staging, 0, buf, offset, size);
    this.#staging.push(staging);
    this.#stagingBytes += size;
    this.#stats.uploads++;
  }

  /** Reads `bytes` bytes of `buf` from `offset` back to the CPU (one full round trip). */
  async read(buf: GPUBuffer, bytes: number, offset = 0): Promise<ArrayBuffer> {
    const size = Math.ceil(bytes / 4) * 4;
    const staging = this.device.createBuffer({
      size,
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    });
    this.copy(buf, offset, staging, 0, size);
    this.flush();
    try {
      await staging.mapAsync(GPUMapMode.READ);
    } catch (e) {
      this.check();
      throw e;
    }
    this.check();
    const out = staging.getMappedRange().slice(0, bytes);
    staging.unmap();
    staging.destroy();
    return out;
  }

  /** Waits until the GPU has finished everything submitted. */
  async sync(): Promise<void> {
    this.flush();
    await this.device.queue.onSubmittedWorkDone();
    this.check();
  }

  /** Splits `bytes` into windows no larger than one storage binding, aligned for offsets. */
  windows(bytes: number): { offset: number; size: number }[] {
    const max = Math.floor(this.maxBindingBytes / this.offsetAlign) * this.offsetAlign;
    const out = [];
    for (let o = 0; o < bytes; o += max) out.push({ offset: o, size: Math.min(max, bytes - o) });
    return out;
  }
}

let current: Gpu | null = null;
let pending: Promise<Gpu> | null = null;

/** Acquires the adapter and device once per process (later calls return the same one). */
export function initGpu(): Promise<Gpu> {
  if (current) return Promise.resolve(current);
  assertGpuAllowed("initGpu");
  ensureRuntimeDir();
  return pending ??= (async () => {
    const adapter = await navigator.gpu?.requestAdapter({ powerPreference: "high-performance" });
    if (!adapter) throw new Error(NO_ADAPTER);
    const want: Record<string, number> = {};
    for (
      const k of [
        "maxStorageBufferBindingSize",
        "maxBufferSize",
        "maxComputeWorkgroupStorageSize",
        "maxComputeInvocationsPerWorkgroup",
        "maxComputeWorkgroupSizeX",
        "maxComputeWorkgroupSizeY",
        "maxStorageBuffersPerShaderStage",
        "maxTextureDimension2D",
        "maxTextureArrayLayers",
        "maxStorageTexturesPerShaderStage",
      ] as const
    ) want[k] = adapter.limits[k];
    // timestamp-query costs nothing unless used; the profiler (core/profile.ts) uses it.
    const requiredFeatures: GPUFeatureName[] = adapter.features.has("timestamp-query")
      ? ["timestamp-query"]
      : [];
    const device = await adapter.requestDevice({ requiredLimits: want, requiredFeatures });
    const g = new Gpu(device, adapter.info);
    g.textureReads = await measureTextureReads(g);
    current = g;
    return current;
  })();
}

/** The end of an outermost `tidy` when a GPU context exists (`Gpu.stepDone`). */
export function stepDone(): void {
  current?.stepDone();
}

/** The GPU context; `initGpu()` must have finished first. */
export function gpu(): Gpu {
  if (!current) throw new Error("GPU not initialised: await initGpu() first");
  return current;
}
