/**
 * Pure helpers of the GPU layer (`gpu.ts`): the pool's size buckets for buffers and
 * textures, and the kernel family an adapter gets. No WebGPU calls.
 *
 * @module
 */

/** Rounds a texture dimension up to a pool bucket: 16, then quarter powers of two. */
export function texBucket(v: number, max: number): number {
  if (v <= 16) return Math.min(16, max);
  const p = 2 ** Math.floor(Math.log2(v));
  for (const f of [1, 1.25, 1.5, 1.75, 2]) {
    if (p * f >= v) return Math.min(p * f, max);
  }
  return max;
}

/** Rounds a byte size up to the pool's bucket: 256-byte steps, then quarter powers of two. */
export function bucketSize(bytes: number): number {
  const b = Math.max(256, Math.ceil(bytes / 256) * 256);
  if (b <= 65536) return b;
  const p = 2 ** Math.floor(Math.log2(b));
  for (const f of [1, 1.25, 1.5, 1.75, 2]) {
    if (p * f >= b) return p * f;
  }
  return b;
}

/**
 * The kernel family for an adapter: `"cpu"` on software adapters (a fallback adapter, or
 * one whose description, device or architecture names llvmpipe, lavapipe, SwiftShader or
 * "software"), `"gpu"` on real ones. `Gpu.variant` is this for the engine's adapter.
 */
export function adapterVariant(info: GPUAdapterInfo): "cpu" | "gpu" {
  const i = info as GPUAdapterInfo & { isFallbackAdapter?: boolean };
  if (i.isFallbackAdapter) return "cpu";
  const text = `${i.description ?? ""} ${i.device ?? ""} ${i.architecture ?? ""}`;
  return /llvmpipe|lavapipe|swiftshader|software/i.test(text) ? "cpu" : "gpu";
}
