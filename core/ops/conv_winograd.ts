/**
 * Winograd F(2×2, 3×3) convolution for the no-gradient path on software adapters (frozen
 * layers: VGG16's features): 3×3, stride 1, dilation 1, one group. Each 2×2 block of
 * outputs ("tile") comes from a 4×4 patch of the input, with 16 multiplies per input and
 * output channel instead of 36, so the product has 2.25× fewer FLOPs; as 16 independent
 * matmuls it runs on the texture matmul.
 *
 *   V = Bᵀ d B (input patch d, per channel and tile)     U = G g Gᵀ (kernel g, per pair)
 *   M[e] = U[e] · V[e] for the 16 positions e             Y = Aᵀ M A (+ bias, ReLU)
 *
 * with Bᵀ = [1 0 −1 0; 0 1 1 0; 0 −1 1 0; 0 1 0 −1], G = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1],
 * Aᵀ = [1 1 1 0; 0 1 −1 −1] (Lavin & Gray 2015). The transforms' coefficients are 0, ±1, ±½,
 * so the result stays within a few float32 ulps of the direct sum.
 *
 * - The input goes into a padded-row texture (`padTexture`); the input transform reads each
 *   tile's 4 rows as two texels a row and writes V straight into the staging layout of the
 *   matmul's B operand (16 matrices of C lines × tiles), 4 tiles an invocation.
 * - U is computed per forward (the weights may have changed) into a buffer [16][Cout][C].
 * - The output transform reads M as vec4s (4 tiles) and writes y with the bias and ReLU.
 * - Images go in chunks so V and M stay within 64 MiB each.
 *
 * @module
 */
import { gpu } from "../gpu.ts";
import { empty, type Tensor } from "../tensor.ts";
import type { ConvGeometry } from "./conv_ref.ts";
import { decls, grid, main1d, run } from "./kernel.ts";
import { gemmInto, texturePlanFor } from "./matmul.ts";
import { u32 } from "./matmul_spec.ts";
import { address, type Placement, stagePitch } from "./texture_layout.ts";
import { staged, textureFor } from "./conv_texture.ts";
import { padTexture, type PlacedTexture } from "./conv_direct.ts";

let enabled = true;

/** Turns the Winograd kernels on or off (benchmarks compare them). Returns the old setting. */
export function setConvWinograd(on: boolean): boolean {
  const old = enabled;
  enabled = on;
  return old;
}

/** Bytes V (and M) may take per chunk of images. */
let chunkBytes = 64 * 2 ** 20;

/** Sets that budget (tests use it to split the images). Returns the old one. */
export function setWinogradChunkBytes(bytes: number): number {
  const old = chunkBytes;
  chunkBytes = bytes;
  return old;
}

/** Tiles per image and images per chunk. */
function tiling(p: ConvGeometry): { TH: number; TW: number; nc: number } {
  const TH = Math.ceil(p.OH / 2), TW = Math.ceil(p.OW / 2);
  const perImage = 16 * Math.max(p.C, p.Cout) * TH * TW * 4;
  return { TH, TW, nc: Math.max(1, Math.min(p.N, Math.floor(chunkBytes / perImage))) };
}

/** The product of a chunk of `T` tiles (padded to whole texels): M[e] = U[e] · V[e]. */
function productSpec(p: ConvGeometry, T: number) {
  const Tp = Math.ceil(T / 4) * 4;
  return {
    batch: 16,
    M: p.Cout,
    N: Tp,
    K: p.C,
    transA: false,
    transB: false,
    aBatchStride: p.Cout * p.C,
    bBatchStride: p.C * Tp,
    bias: false,
    relu: false,
  };
}

/**
 * Whether the Winograd kernels take this convolution: a software adapter, no gradient to
 * record, 3×3 stride 1 dilation 1 one group, at least 64 channels in and out (measured on
 * lavapipe: with 32 or fewer the direct kernels were faster, with 64 Winograd was 1.1–1.3×
 * faster, more with more channels), and texture limits that fit.
 */
export function winogradApplies(p: ConvGeometry, wantGrad: boolean): boolean {
  const g = gpu();
  if (!enabled || wantGrad || g.variant !== "cpu") return false;
  if (p.KH !== 3 || p.KW !== 3 || p.SH !== 1 || p.SW !== 1 || p.DH !== 1 || p.DW !== 1) {
    return false;
  }
  if (p.G !== 1 || p.C < 64 || p.Cout < 64) return false;
  const { TH, TW, nc } = tiling(p);
  const rows = p.C * (2 * TH + 2), texels = ((TW - 1) >> 1) + 2;
  if (rows > g.maxTextureDim || texels > g.maxTextureDim) return false;
  if (16 * Math.max(p.C, p.Cout) * nc * TH * TW * 4 > g.maxBindingBytes) return false;
  return texturePlanFor(productSpec(p, nc * TH * TW)) !== null;
}

/** U [16][Cout][C] = G g Gᵀ for every (output, input) channel pair. */
function weightTransform(w: Tensor, p: ConvGeometry): Tensor {
  const n = p.Cout * p.C, u = empty([16, p.Cout, p.C]);
  const code = `${decls(["w", "u"])}
${main1d(n)}
  let b = i * 9u;
  let g0 = vec3<f32>(w[b], w[b + 1u], w[b + 2u]);
  let g1 = vec3<f32>(w[b + 3u], w[b + 4u], w[b + 5u]);
  let g2 = vec3<f32>(w[b + 6u], w[b + 7u], w[b + 8u]);
  let r = array<vec3<f32>, 4>(g0, (g0 + g1 + g2) * 0.5, (g0 - g1 + g2) * 0.5, g2);
  for (var a = 0u; a < 4u; a++) {
    let v = r[a];
    let row = vec4<f32>(v.x, (v.x + v.y + v.z) * 0.5, (v.x - v.y + v.z) * 0.5, v.z);
    for (var c = 0u; c < 4u; c++) { u[(a * 4u + c) * ${u32(n)} + i] = row[c]; }
  }
}`;
  run(code, [w, u], grid(n));
  return u;
}

/**
 * V of tiles t0 … t0 + T − 1 (global tile index = image·TH·TW + th·TW + tw) into `tex`
 * (placement `place`: 16 matrices of C lines of ⌈T/4⌉ texels), 4 tiles an invocation.
 */
function inputTransform(
  xt: PlacedTexture,
  p: ConvGeometry,
  TH: number,
  TW: number,
  n0: number,
  T: number,
  place: Placement,
  tex: GPUTexture,
): void {
  const rows = 2 * TH + 2, G4 = Math.ceil(T / 4), n = p.C * G4, pitch = stagePitch(place);
  const ad = address(xt.place, "img", `c * ${u32(rows)} + 2u * th + r`);
  const tile = (q: number) => `
  {
    let t = g4 * 4u + ${u32(q)};
    if (t < ${u32(T)}) {
      let img = ${u32(n0)} + t / ${u32(TH * TW)};
      let th = (t / ${u32(TW)}) % ${u32(TH)};
      let tw = t % ${u32(TW)};
      let odd = (tw & 1u) == 1u;
      var d: array<vec4<f32>, 4>;
      for (var r = 0u; r < 4u; r++) {
        let a = textureLoad(X, vec2<u32>(tw >> 1u, ${ad.y}), ${ad.layer});
        let b = textureLoad(X, vec2<u32>((tw >> 1u) + 1u, ${ad.y}), ${ad.layer});
        d[r] = select(a, vec4<f32>(a.z, a.w, b.x, b.y), odd);
      }
      let rr = array<vec4<f32>, 4>(d[0] - d[2], d[1] + d[2], d[2] - d[1], d[1] - d[3]);
      for (var a = 0u; a < 4u; a++) {
        let v = rr[a];
        let row = vec4<f32>(v.x - v.z, v.y + v.z, v.z - v.y, v.y - v.w);
        for (var b = 0u; b < 4u; b++) { o[a * 4u + b][${q}] = row[b]; }
      }
    }
  }`;
  const code = `@group(0) @binding(0) var X: texture_storage_2d_array<rgba32float, read>;
@group(0) @binding(1) var<storage, read_write> D: array<vec4<f32>>;
${main1d(n)}
  let g4 = i % ${u32(G4)};
  let c = i / ${u32(G4)};
  var o: array<vec4<f32>, 16>;
  ${[0, 1, 2, 3].map(tile).join("")}
  for (var e = 0u; e < 16u; e++) {
    D[(e * ${u32(p.C)} + c) * ${u32(pitch)} + g4] = o[e];
  }
}`;
  staged(code, [gpu().view(xt.tex)], n, place, tex);
}

/** y (images n0 …) from M [16][Cout][Tp] of T tiles: Aᵀ M A + bias, ReLU. */
function outputTransform(
  m: Tensor,
  y: Tensor,
  bias: Tensor | null,
  p: ConvGeometry,
  TH: number,
  TW: number,
  n0: number,
  T: number,
  relu: boolean,
): void {
  const G4 = Math.ceil(T / 4), Tp = G4 * 4, n = p.Cout * G4, { OH, OW, Cout } = p;
  const store = (q: number) => `
  {
    let t = g4 * 4u + ${u32(q)};
    if (t < ${u32(T)}) {
      let img = ${u32(n0)} + t / ${u32(TH * TW)};
      let oh = ((t / ${u32(TW)}) % ${u32(TH)}) * 2u;
      let ow = (t % ${u32(TW)}) * 2u;
      let base = ((img * ${u32(Cout)} + co) * ${u32(OH)} + oh) * ${u32(OW)} + ow;
      y[base] = act(y00[${q}] + bv);
      if (ow + 1u < ${u32(OW)}) { y[base + 1u] = act(y01[${q}] + bv); }
      if (oh + 1u < ${u32(OH)}) {
        y[base + ${u32(OW)}] = act(y10[${q}] + bv);
        if (ow + 1u < ${u32(OW)}) { y[base + ${u32(OW + 1)}] = act(y11[${q}] + bv); }
      }
    }
  }`;
  const code = `@group(0) @binding(0) var<storage, read> m: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
${bias ? "@group(0) @binding(2) var<storage, read> bias: array<f32>;" : ""}
fn act(v: f32) -> f32 { return ${relu ? "max(v, 0.0)" : "v"}; }
${main1d(n)}
  let g4 = i % ${u32(G4)};
  let co = i / ${u32(G4)};
  var k: array<vec4<f32>, 16>;
  for (var e = 0u; e < 16u; e++) { k[e] = m[(e * ${u32(Cout)} + co) * ${u32(Tp / 4)} + g4]; }
  var t0: array<vec4<f32>, 4>;
  var t1: array<vec4<f32>, 4>;
  for (var j = 0u; j < 4u; j++) {
    t0[j] = k[j] + k[4u + j] + k[8u + j];
    t1[j] = k[4u + j] - k[8u + j] - k[12u + j];
  }
  let y00 = t0[0] + t0[1] + t0[2];
  let y01 = t0[1] - t0[2] - t0[3];
  let y10 = t1[0] + t1[1] + t1[2];
  let y11 = t1[1] - t1[2] - t1[3];
  let bv = ${bias ? "bias[co]" : "0.0"};
  ${[0, 1, 2, 3].map(store).join("")}
}`;
  run(code, bias ? [m, y, bias] : [m, y], grid(n));
}

/**
 * conv2d through Winograd F(2×2, 3×3) (the caller checked `winogradApplies`): x [N][C][H][W],
 * w [Cout][C][3][3], a tied bias [Cout] or none, optional fused ReLU. Records no gradient.
 */
export function conv2dWinograd(
  x: Tensor,
  w: Tensor,
  bias: Tensor | null,
  p: ConvGeometry,
  relu: boolean,
): Tensor {
  const g = gpu();
  const { TH, TW, nc } = tiling(p);
  const xt = padTexture(x, null, {
    N: p.N,
    C: p.C,
    H: p.H,
    W: p.W,
    rows: 2 * TH + 2,
    texels: ((TW - 1) >> 1) + 2,
    pt: p.PT,
    pl: p.PL,
  })!;
  const u = weightTransform(w, p);
  const y = empty([p.N, p.Cout, p.OH, p.OW]);
  for (let n0 = 0; n0 < p.N; n0 += nc) {
    const T = Math.min(nc, p.N - n0) * TH * TW;
    const spec = productSpec(p, T);
    const plan = texturePlanFor(spec)!;
    const vt = textureFor(plan.b.size);
    inputTransform(xt, p, TH, TW, n0, T, plan.b.place, vt);
    const m = empty([16, p.Cout, spec.N]);
    gemmInto(u, null, m, spec, undefined, { b: vt });
    g.releaseTexture(vt);
    outputTransform(m, y, bias, p, TH, TW, n0, T, relu);
    m.dispose();
  }
  u.dispose();
  g.releaseTexture(xt.tex);
  return y;
}
