/**
 * Whether this adapter reads a storage buffer more slowly than a copy into a texture and
 * texture loads: measured once when the device is created, on software adapters only.
 *
 * On lavapipe a storage load is bounds-checked and gathered lane by lane; measured on one
 * AMD EPYC (AVX2, 2 cores), a vec4 storage load cost 26 ns against 4.5 ns a vec4 for
 * `copyBufferToTexture` and 4.6–5.6 for a `textureLoad` of it, while on an AVX-512 Xeon the
 * storage load cost about 2.5 ns, less than the copy alone. So the choice is measured, not
 * taken from the processor's name: memory-bound kernels (the optimizer's update) read their
 * large inputs through textures (`core/ops/texture_read.ts`) where that is at least 1.5×
 * faster. `WEBGPU_TEXTURE_READS=1` or `0` skips the measurement.
 *
 * @module
 */
import type { Bindable, TextureCopy } from "./gpu_types.ts";

/** What the measurement uses of the GPU context (`Gpu` in gpu.ts, which calls it). */
export interface ReadsGpu {
  variant: "cpu" | "gpu";
  acquire(bytes: number): GPUBuffer;
  release(buf: GPUBuffer): void;
  acquireTexture(width: number, height: number, layers: number): GPUTexture;
  releaseTexture(tex: GPUTexture): void;
  view(tex: GPUTexture): GPUTextureView;
  copyToTexture(src: GPUBuffer, base: number, c: TextureCopy, tex: GPUTexture): void;
  dispatch(code: string, bindings: Bindable[], workgroups: [number, number?, number?]): void;
  sync(): Promise<void>;
}

/** Texels a line of the flat textures (`core/ops/texture_read.ts`): rows of 16 KiB. */
export const FLAT_WIDTH = 1024;

/** Vec4s each measuring kernel reads (4 MiB) and vec4s an invocation reads. */
const N4 = 256 * 1024, PER = 8;

/** Rounds of the measurement (the best of each side counts) and dispatches a round. */
const ROUNDS = 2, REPS = 4;

/**
 * Whether texture reads pay on `g`: false on real GPUs, `WEBGPU_TEXTURE_READS` when set,
 * else a storage-read kernel timed against a copy plus a texture-read kernel (about 0.1 s).
 */
export async function measureTextureReads(g: ReadsGpu): Promise<boolean> {
  const env = Deno.env.get("WEBGPU_TEXTURE_READS");
  if (env === "1" || env === "0") return env === "1";
  if (g.variant !== "cpu") return false;
  const rows = N4 / FLAT_WIDTH;
  const src = g.acquire(N4 * 16), out = g.acquire((N4 / PER) * 16);
  const tex = g.acquireTexture(FLAT_WIDTH, rows, 1);
  const head = `@group(0) @binding(1) var<storage, read_write> y: array<vec4<f32>>;
@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) id: vec3<u32>) {
  let i = id.x;
  var s = vec4<f32>(0.0);
  for (var k = 0u; k < ${PER}u; k++) {
    let f = i * ${PER}u + k;`;
  const storage = `@group(0) @binding(0) var<storage, read> x: array<vec4<f32>>;
${head}
    s = s + x[f];
  }
  y[i] = s;
}`;
  const texture = `@group(0) @binding(0) var x: texture_storage_2d_array<rgba32float, read>;
${head}
    s = s + textureLoad(x, vec2<u32>(f % ${FLAT_WIDTH}u, f / ${FLAT_WIDTH}u), 0);
  }
  y[i] = s;
}`;
  const wg: [number] = [N4 / PER / 64];
  const bind = (buffer: GPUBuffer) => ({ buffer, offset: 0, size: buffer.size });
  const viaStorage = () => g.dispatch(storage, [bind(src), bind(out)], wg);
  const viaTexture = () => {
    g.copyToTexture(src, 0, {
      offset: 0,
      bytesPerRow: FLAT_WIDTH * 16,
      width: FLAT_WIDTH,
      rows,
      y: 0,
      layer: 0,
    }, tex);
    g.dispatch(texture, [g.view(tex), bind(out)], wg);
  };
  const best = [Infinity, Infinity, Infinity];
  const idle = () => {}; // the wait alone, taken off both
  for (let r = 0; r <= ROUNDS; r++) {
    for (const [k, f] of [viaStorage, viaTexture, idle].entries()) {
      const t0 = performance.now();
      for (let j = 0; j < REPS; j++) f();
      await g.sync();
      if (r > 0) best[k] = Math.min(best[k], performance.now() - t0); // round 0: compiles
    }
  }
  g.release(src);
  g.release(out);
  g.releaseTexture(tex);
  return best[0] - best[2] >= 1.5 * (best[1] - best[2]);
}
