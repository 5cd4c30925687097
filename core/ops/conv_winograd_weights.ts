/**
 * The weight side of Winograd F(m×m, 3×3) (`conv_winograd.ts`): U = G g Gᵀ for every pair of
 * output and input channels, written into the matmul's B texture, and kept there between
 * calls while the weight buffer is unchanged (`Gpu.version`).
 *
 * @module
 */
import { gpu } from "../gpu.ts";
import { empty, type Tensor } from "../tensor.ts";
import type { ConvGeometry } from "./conv_ref.ts";
import { staged, textureFor } from "./conv_texture.ts";
import { grid, main1d, run } from "./kernel.ts";
import { u32 } from "./matmul_spec.ts";
import { type Placement, stagePitch } from "./texture_layout.ts";
import { lin, type Transforms } from "./winograd_matrices.ts";

/**
 * U [α²][Cout][C] = G g Gᵀ for every (output, input) channel pair; 4 input channels an
 * invocation, stored as vec4s, when C is a multiple of 4 (else one). With `into` (C a
 * multiple of 4) U goes straight into the staging layout of the matmul's B operand and
 * from there into its texture: no U buffer, no pack per chunk. With `into.nMajor` (Cout a
 * multiple of 4) that layout is U's transpose [α²][C] lines of Cout/4 texels, and an
 * invocation takes 4 output channels of one input channel.
 */
export function weightTransform(
  w: Tensor,
  p: ConvGeometry,
  f: Transforms,
  into?: { place: Placement; tex: GPUTexture; nMajor?: boolean },
): Tensor | null {
  const nMajor = !!into?.nMajor;
  const V = nMajor || p.C % 4 === 0 ? 4 : 1, n = (p.Cout * p.C) / V;
  const ty = V === 4 ? "vec4<f32>" : "f32";
  // Invocation i: 4 output channels 4·(i / C) … of input channel i % C (N-major), or V
  // input channels of one output channel (pair i·V: w[(pair + v)·9 + 3r + c]).
  const step = nMajor ? p.C * 9 : 9;
  const tap = (r: number, c: number) =>
    V === 4
      ? `vec4<f32>(${[0, 1, 2, 3].map((v) => `w[b + ${v * step + 3 * r + c}u]`).join(", ")})`
      : `w[b + ${3 * r + c}u]`;
  const g = [0, 1, 2].map((r) => [0, 1, 2].map((c) => `g${r}${c}`));
  const L = g.flatMap((row, r) => row.map((name, c) => `  let ${name} = ${tap(r, c)};`));
  for (let i = 0; i < f.a; i++) {
    // Row i of G g, then (G g) Gᵀ.
    for (let c = 0; c < 3; c++) {
      L.push(`  let r${i}_${c} = ${lin(f.G[i], g.map((row) => row[c]))};`);
    }
    for (let j = 0; j < f.a; j++) {
      const v = lin(f.G[j], [0, 1, 2].map((c) => `r${i}_${c}`));
      const at = nMajor
        ? `(${u32(i * f.a + j)} * ${u32(p.C)} + i % ${u32(p.C)}) * ${
          u32(stagePitch(into!.place))
        } + i / ${u32(p.C)}`
        : into
        ? `(${u32(i * f.a + j)} * ${u32(p.Cout)} + i / ${u32(p.C / 4)}) * ${
          u32(stagePitch(into.place))
        } + i % ${u32(p.C / 4)}`
        : `${u32(i * f.a + j)} * ${u32(n)} + i`;
      L.push(`  u[${at}] = ${v};`);
    }
  }
  const code = `@group(0) @binding(0) var<storage, read> w: array<f32>;
@group(0) @binding(1) var<storage, read_write> u: array<${ty}>;
${main1d(n)}
  let b = ${
    nMajor
      ? `(i / ${u32(p.C)}) * ${u32(4 * p.C * 9)} + (i % ${u32(p.C)}) * 9u`
      : `i * ${u32(9 * V)}`
  };
${L.join("\n")}
}`;
  if (into) {
    staged(code, [w], n, into.place, into.tex);
    return null;
  }
  const u = empty([f.a * f.a, p.Cout, p.C]);
  run(code, [w, u], grid(n));
  return u;
}

/** A layer's U in its B texture, valid while its weight buffer keeps `version`. */
interface CachedU {
  gpu: ReturnType<typeof gpu>;
  version: number;
  /** Tile side, channels and texture size: what else U depends on. */
  key: string;
  tex: GPUTexture;
  bytes: number;
}

/** U textures by weight buffer, least recently used first. */
const uCache = new Map<GPUBuffer, CachedU>();
let uCacheBytes = 1024 * 2 ** 20;

/**
 * Sets how many bytes of transformed weights are kept between calls (0: none, every call
 * transforms its weights; default 1 GiB, VGG16's 12 layers take 418 MiB with F(6×6)).
 * Returns the old budget.
 */
export function setWinogradWeightCache(bytes: number): number {
  const old = uCacheBytes;
  uCacheBytes = bytes;
  evictU(0);
  return old;
}

/** Drops least recently used entries until `room` more bytes fit the budget. */
function evictU(room: number): void {
  let used = [...uCache.values()].reduce((sum, e) => sum + e.bytes, 0);
  for (const [buf, e] of uCache) {
    if (used + room <= uCacheBytes) break;
    if (e.gpu === gpu()) gpu().releaseTexture(e.tex);
    uCache.delete(buf);
    used -= e.bytes;
  }
}

/**
 * U of `w` in the matmul's B texture (placement `pb`), transformed now or kept from an
 * earlier call while `w`'s buffer has not been written since (`Gpu.version`: a frozen
 * layer's weights are transformed once, a trained layer's again after every update). Only
 * kept weights are cached (a module's parameters: a temporary made in `tidy` would leave
 * an entry for a pooled buffer). The texture stays the cache's, or is the caller's to
 * release (`owned`) when it is not cached.
 */
export function transformedWeights(
  w: Tensor,
  p: ConvGeometry,
  f: Transforms,
  pb: Placement,
  nMajor: boolean,
): { tex: GPUTexture; owned: boolean } {
  const g = gpu(), buf = w.buffer, version = g.version(buf);
  const size = `${pb.size.width}x${pb.size.height}x${pb.size.layers}`;
  const key = `${f.m} ${p.C} ${p.Cout} ${size} ${nMajor ? "n" : "k"}`;
  const hit = w.base.kept ? uCache.get(buf) : undefined;
  if (hit) {
    uCache.delete(buf);
    if (hit.gpu === g && hit.version === version && hit.key === key) {
      uCache.set(buf, hit); // most recently used
      return { tex: hit.tex, owned: false };
    }
    if (hit.gpu === g) g.releaseTexture(hit.tex);
  }
  const tex = textureFor(pb.size);
  weightTransform(w, p, f, { place: pb, tex, nMajor });
  const bytes = pb.size.width * pb.size.height * pb.size.layers * 16;
  if (!w.base.kept || bytes > uCacheBytes) return { tex, owned: true };
  evictU(bytes);
  uCache.set(buf, { gpu: g, version, key, tex, bytes });
  return { tex, owned: false };
}
