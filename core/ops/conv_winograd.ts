/**
 * Winograd F(m×m, 3×3) convolution (m = 4 by default, or 2) for the no-gradient path on
 * software adapters (frozen layers: VGG16's features): 3×3, stride 1, dilation 1, one
 * group. Each m×m block of outputs ("tile") comes from an α×α patch of the input (α = m + 2),
 * with α² multiplies per input and output channel instead of 9m² (F(4×4): 36 for 144, 4×
 * fewer; F(2×2): 16 for 36); as α² independent matmuls it runs on the texture matmul.
 *
 *   V = Bᵀ d B (input patch d, per channel and tile)     U = G g Gᵀ (kernel g, per pair)
 *   M[e] = U[e] · V[e] for the α² positions e             Y = Aᵀ M A (+ bias, ReLU)
 *
 * with the matrices of Lavin & Gray (2015) in `F` below, the kernels' WGSL generated from
 * them (zero coefficients dropped, ±1 as additions).
 *
 * - The input goes into a padded-row texture (`padTexture`); the input transform reads each
 *   tile's α rows as two texels a row, transforms 4 tiles at once as vec4s and writes V
 *   straight into the staging layout of the matmul's B operand (α² matrices of C lines ×
 *   tiles).
 * - U is computed per forward (the weights may have changed) into a buffer [α²][Cout][C].
 * - The output transform reads M as vec4s (4 tiles) and writes y with the bias and ReLU.
 * - Images go in chunks so V and M stay within 64 MiB each.
 *
 * @module
 */
import { gpu } from "../gpu.ts";
import { empty, type Tensor } from "../tensor.ts";
import type { ConvGeometry } from "./conv_ref.ts";
import { grid, main1d, run } from "./kernel.ts";
import { gemmInto, texturePlanFor } from "./matmul.ts";
import { u32 } from "./matmul_spec.ts";
import { address, type Placement, samePlacement, stagePitch } from "./texture_layout.ts";
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

/** The transforms of F(m×m, 3×3): Bᵀ (α×α), G (α×3), Aᵀ (m×α), α = m + 2. */
export interface Transforms {
  m: number;
  a: number;
  BT: number[][];
  G: number[][];
  AT: number[][];
}

/** Interpolation points, in the order the tiles take them (then ∞). */
const POINTS = [0, 1, -1, 2, -2, 1 / 2, -1 / 2];

/** Coefficients (constant first) of Π (x − r) over `roots`. */
function poly(roots: number[]): number[] {
  let c = [1];
  for (const r of roots) c = [...c.map((v) => -r * v), 0].map((v, i) => v + (c[i - 1] ?? 0));
  return c;
}

/**
 * The Toom-Cook matrices of F(m, 3) for correlation, from the α − 1 first `POINTS` and ∞
 * (Lavin & Gray 2015; F(4, 3) gives exactly their matrices). Linear convolution s = g ∗ x
 * is interpolated from s(p) = g(p)·x(p) and the leading coefficient, s = C[(H g) ⊙ (X x)]
 * (H, X Vandermonde rows, C Lagrange), and correlation is its transpose: y = Xᵀ[(H g) ⊙
 * (Cᵀ d)]. Each Lagrange denominator f_k = Π_{l≠k}(p_k − p_l) moves from Cᵀ into G, so Bᵀ
 * holds the numerators' coefficients: Aᵀ = Xᵀ, G[k][j] = p_k^j / f_k, Bᵀ[k] = coefficients
 * of Π_{l≠k}(x − p_l), and ∞'s row of Bᵀ those of Π_l (x − p_l).
 */
export function winogradTransforms(m: number): Transforms {
  const a = m + 2, pts = POINTS.slice(0, a - 1);
  if (m < 1 || pts.length < a - 1) throw new Error(`winogradTransforms: no F(${m}, 3)`);
  const BT = pts.map((_, k) => poly(pts.filter((_, l) => l !== k)).concat(0));
  BT.push(poly(pts));
  const G = pts.map((pk, k) => {
    const f = pts.reduce((acc, pl, l) => (l === k ? acc : acc * (pk - pl)), 1);
    return [0, 1, 2].map((j) => pk ** j / f);
  });
  G.push([0, 0, 1]);
  const AT = [...Array(m).keys()].map((i) => [...pts.map((pk) => pk ** i), i === m - 1 ? 1 : 0]);
  return { m, a, BT, G, AT };
}

const F: Record<number, Transforms> = {
  2: winogradTransforms(2),
  4: winogradTransforms(4),
  6: winogradTransforms(6),
};

/** The output tile's side: 0 (each layer takes the cheaper of 4 and 6), or 2, 4 or 6. */
let tileSide: 0 | 2 | 4 | 6 = 0;

/**
 * Fixes the output tile's side (F(2×2), F(4×4) or F(6×6, 3×3); 0: per layer, the one with
 * fewer multiplies in the product). Returns the old setting.
 */
export function setWinogradTile(m: 0 | 2 | 4 | 6): 0 | 2 | 4 | 6 {
  const old = tileSide;
  tileSide = m;
  return old;
}

/**
 * The output tile's side for a layer: the fixed one, or of F(4×4) and F(6×6) the one whose
 * product has fewer multiplies (tiles × α²; a tie goes to the smaller transforms). At
 * 150×150, VGG16's layers all take F(6×6): 23, 17, 13, 36 and 21% fewer than F(4×4) at the
 * five sizes (the last tiles of F(4×4) are mostly padding at 18 and 9).
 */
export function winogradTileFor(p: ConvGeometry): number {
  if (tileSide) return tileSide;
  const cost = (m: number) => Math.ceil(p.OH / m) * Math.ceil(p.OW / m) * (m + 2) ** 2;
  return cost(6) < cost(4) ? 6 : 4;
}

function transformsFor(p: ConvGeometry): Transforms {
  return F[winogradTileFor(p)];
}

/** WGSL for Σ c_k·t_k over the non-zero coefficients (exact ±1 as additions). */
function lin(coefs: number[], terms: string[]): string {
  const parts: string[] = [];
  coefs.forEach((c, k) => {
    if (c === 0) return;
    const mag = Math.abs(c) === 1 ? terms[k] : `${Math.abs(c).toPrecision(9)} * ${terms[k]}`;
    parts.push(parts.length === 0 ? (c < 0 ? `-${mag}` : mag) : `${c < 0 ? "-" : "+"} ${mag}`);
  });
  return parts.length ? `(${parts.join(" ")})` : "0.0";
}

/** Tiles per image and images per chunk. */
function tiling(p: ConvGeometry, f: Transforms): { TH: number; TW: number; nc: number } {
  const TH = Math.ceil(p.OH / f.m), TW = Math.ceil(p.OW / f.m);
  const perImage = f.a * f.a * Math.max(p.C, p.Cout) * TH * TW * 4;
  return { TH, TW, nc: Math.max(1, Math.min(p.N, Math.floor(chunkBytes / perImage))) };
}

/**
 * A patch row starts at float m·tw of its row: at component 0 of texel (m·tw) / 4 when m
 * is a multiple of 4, else at component 0 or 2. It is read as the `patchTexels` texels from
 * there (the α floats after the largest start component).
 */
function patchTexels(f: Transforms): number {
  return Math.ceil((f.a + (f.m % 4 ? 2 : 0)) / 4);
}

/**
 * The input texture's layout: m·TH + 2 rows a channel, and texels up to the last patch's
 * last (`patchTexels` from its first).
 */
function inputLayout(f: Transforms, TH: number, TW: number): { rows: number; texels: number } {
  return { rows: f.m * TH + 2, texels: ((f.m * (TW - 1)) >> 2) + patchTexels(f) };
}

/**
 * The product of a chunk of `T` tiles, transposed so the tiles are its rows: M[e] = V[e] ·
 * U[e]ᵀ ([T][C] · [C][Cout]). Mesa's software adapters run 8 neighbouring columns of
 * invocations as one vector, so the output channels (64 or more, multiples of 8 in every
 * VGG layer) go along the columns; the tiles (72 at VGG16's 18×18 layers with F(6×6): 9
 * column tiles of 8, half the second vector idle) go along the rows, where a partial tile
 * costs nothing more.
 */
function productSpec(p: ConvGeometry, T: number, f: Transforms) {
  return {
    batch: f.a * f.a,
    M: T,
    N: p.Cout,
    K: p.C,
    transA: false,
    transB: true,
    aBatchStride: T * p.C,
    bBatchStride: p.Cout * p.C,
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
  const g = gpu(), f = transformsFor(p);
  if (!enabled || wantGrad || g.variant !== "cpu") return false;
  if (p.KH !== 3 || p.KW !== 3 || p.SH !== 1 || p.SW !== 1 || p.DH !== 1 || p.DW !== 1) {
    return false;
  }
  if (p.G !== 1 || p.C < 64 || p.Cout < 64) return false;
  const { TH, TW, nc } = tiling(p, f);
  const lay = inputLayout(f, TH, TW);
  if (p.C * lay.rows > g.maxTextureDim || lay.texels > g.maxTextureDim) return false;
  if (f.a * f.a * Math.max(p.C, p.Cout) * nc * TH * TW * 4 > g.maxBindingBytes) return false;
  return texturePlanFor(productSpec(p, nc * TH * TW, f)) !== null;
}

/**
 * U [α²][Cout][C] = G g Gᵀ for every (output, input) channel pair; 4 input channels an
 * invocation, stored as vec4s, when C is a multiple of 4 (else one). With `into` (C a
 * multiple of 4) U goes straight into the staging layout of the matmul's A operand and
 * from there into its texture: no U buffer, no pack per chunk.
 */
function weightTransform(
  w: Tensor,
  p: ConvGeometry,
  f: Transforms,
  into?: { place: Placement; tex: GPUTexture },
): Tensor | null {
  const V = p.C % 4 === 0 ? 4 : 1, n = (p.Cout * p.C) / V;
  const ty = V === 4 ? "vec4<f32>" : "f32";
  // Tap (r, c) of the V kernels: w[(pair + v)·9 + 3r + c], v = 0 … V − 1.
  const tap = (r: number, c: number) =>
    V === 4
      ? `vec4<f32>(${[0, 1, 2, 3].map((v) => `w[b + ${v * 9 + 3 * r + c}u]`).join(", ")})`
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
      const at = into
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
  let b = i * ${u32(9 * V)};
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
 * layer's weights are transformed once, a trained layer's again after every update). The
 * texture stays the cache's, or is the caller's to release (`owned`) when the budget has
 * no room for it.
 */
function transformedWeights(
  w: Tensor,
  p: ConvGeometry,
  f: Transforms,
  pb: Placement,
): { tex: GPUTexture; owned: boolean } {
  const g = gpu(), buf = w.buffer, version = g.version(buf);
  const key = `${f.m} ${p.C} ${p.Cout} ${pb.size.width}x${pb.size.height}x${pb.size.layers}`;
  const hit = uCache.get(buf);
  if (hit) {
    uCache.delete(buf);
    if (hit.gpu === g && hit.version === version && hit.key === key) {
      uCache.set(buf, hit); // most recently used
      return { tex: hit.tex, owned: false };
    }
    if (hit.gpu === g) g.releaseTexture(hit.tex);
  }
  const tex = textureFor(pb.size);
  weightTransform(w, p, f, { place: pb, tex });
  const bytes = pb.size.width * pb.size.height * pb.size.layers * 16;
  if (bytes > uCacheBytes) return { tex, owned: true };
  evictU(bytes);
  uCache.set(buf, { gpu: g, version, key, tex, bytes });
  return { tex, owned: false };
}

/** A chunk of images: the layer, its transforms, tiles per image, the first image, tiles. */
interface Chunk {
  p: ConvGeometry;
  f: Transforms;
  TH: number;
  TW: number;
  n0: number;
  T: number;
}

/**
 * V of tiles t0 … t0 + T − 1 (global tile index = image·TH·TW + th·TW + tw) into `tex`
 * (placement `place`: α² matrices of T lines of ⌈C/4⌉ texels), one tile and 4 channels an
 * invocation: each channel's patch is loaded, then the transform runs once on vec4s
 * (component q: channel 4·c4 + q; zeros past C).
 */
function inputTransform(xt: PlacedTexture, k: Chunk, place: Placement, tex: GPUTexture): void {
  const { p, f, TH, TW, n0, T } = k;
  const { rows } = inputLayout(f, TH, TW), { m, a } = f;
  const C4 = Math.ceil(p.C / 4), n = T * C4, pitch = stagePitch(place);
  const comp = ["x", "y", "z", "w"];
  // Patch columns m·tw … m·tw + α − 1: texels from (m·tw) / 4, starting at component
  // 0 (m a multiple of 4) or at 0 or 2 (`odd`: tw odd).
  const nt = patchTexels(f), split = m % 4 !== 0;
  const el = (r: number, off: number, j: number) =>
    `t${(off + j) >> 2}_${r}.${comp[(off + j) & 3]}`;
  const loads = (q: number) => {
    const ch = `c4 * 4u + ${u32(q)}`;
    const ad = address(
      xt.place,
      "img",
      `min(${ch}, ${u32(p.C - 1)}) * ${u32(rows)} + ${u32(m)} * th`,
    );
    const L = [`  {`];
    for (let r = 0; r < a; r++) {
      const y = `${ad.y} + ${u32(r)}`;
      for (let k = 0; k < nt; k++) {
        const x = k ? `x0 + ${u32(k)}` : "x0";
        L.push(`    let t${k}_${r} = textureLoad(X, vec2<u32>(${x}, ${y}), ${ad.layer});`);
      }
      for (let j = 0; j < a; j++) {
        const c = split ? `select(${el(r, 0, j)}, ${el(r, 2, j)}, odd)` : el(r, 0, j);
        L.push(`    d${r}_${j}[${q}] = ${c};`);
      }
    }
    L.push(`  }`);
    return L.join("\n");
  };
  const T2: string[] = [];
  for (let r = 0; r < a; r++) for (let j = 0; j < a; j++) T2.push(`  var d${r}_${j}: vec4<f32>;`);
  const body = [0, 1, 2, 3].map(loads);
  if (p.C % 4) {
    // Channels past C read channel C − 1 (clamped); their V is zero.
    body.push(
      `  let live = vec4<u32>(c4 * 4u) + vec4<u32>(0u, 1u, 2u, 3u) < vec4<u32>(${u32(p.C)});`,
    );
    for (let r = 0; r < a; r++) {
      for (let j = 0; j < a; j++) {
        body.push(`  d${r}_${j} = select(vec4<f32>(0.0), d${r}_${j}, live);`);
      }
    }
  }
  // Bᵀ d, then (Bᵀ d) B, stored as V[e = i·α + j].
  for (let i = 0; i < a; i++) {
    for (let j = 0; j < a; j++) {
      body.push(
        `  let s${i}_${j} = ${lin(f.BT[i], [...Array(a).keys()].map((r) => `d${r}_${j}`))};`,
      );
    }
  }
  for (let i = 0; i < a; i++) {
    for (let j = 0; j < a; j++) {
      const v = lin(f.BT[j], [...Array(a).keys()].map((k) => `s${i}_${k}`));
      body.push(`  D[(${u32(i * a + j)} * ${u32(T)} + t) * ${u32(pitch)} + c4] = ${v};`);
    }
  }
  const code = `@group(0) @binding(0) var X: texture_storage_2d_array<rgba32float, read>;
@group(0) @binding(1) var<storage, read_write> D: array<vec4<f32>>;
${main1d(n)}
  let c4 = i % ${u32(C4)};
  let t = i / ${u32(C4)};
  let img = ${u32(n0)} + t / ${u32(TH * TW)};
  let th = (t / ${u32(TW)}) % ${u32(TH)};
  let tw = t % ${u32(TW)};
  let x0 = (${u32(m)} * tw) >> 2u;
${split ? "  let odd = (tw & 1u) == 1u;\n" : ""}${T2.join("\n")}
${body.join("\n")}
}`;
  staged(code, [gpu().view(xt.tex)], n, place, tex);
}

/**
 * y (images n0 …) from M [α²][T][Cout]: Aᵀ M A + bias, ReLU; one tile and 4 output
 * channels an invocation (vec4s, component q: channel 4·co4 + q).
 */
function outputTransform(
  mt: Tensor,
  y: Tensor,
  bias: Tensor | null,
  k: Chunk,
  relu: boolean,
): void {
  const { p, f, TH, TW, n0, T } = k;
  const { OH, OW, Cout } = p, Co4 = Math.ceil(Cout / 4), n = T * Co4, vec = Cout % 4 === 0;
  const { m, a } = f;
  const L: string[] = [];
  // Aᵀ M (m × α), then (Aᵀ M) A (m × m).
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < a; j++) {
      L.push(
        `  let s${i}_${j} = ${lin(f.AT[i], [...Array(a).keys()].map((r) => `k[${r * a + j}]`))};`,
      );
    }
  }
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < m; j++) {
      L.push(`  let y${i}_${j} = ${lin(f.AT[j], [...Array(a).keys()].map((c) => `s${i}_${c}`))};`);
    }
  }
  const store = (q: number) => {
    const S: string[] = [];
    for (let i = 0; i < m; i++) {
      const row: string[] = [];
      for (let j = 0; j < m; j++) {
        const st = `y[base + ${u32(i * OW + j)}] = act(y${i}_${j}[${q}] + bv[${q}]);`;
        row.push(j === 0 ? `      ${st}` : `      if (ow + ${u32(j)} < ${u32(OW)}) { ${st} }`);
      }
      S.push(
        i === 0
          ? row.join("\n")
          : `    if (oh + ${u32(i)} < ${u32(OH)}) {\n${row.join("\n")}\n    }`,
      );
    }
    const co = `co4 * 4u + ${u32(q)}`;
    return `
  if (${co} < ${u32(Cout)}) {
    let base = ((img * ${u32(Cout)} + ${co}) * ${u32(OH)} + oh) * ${u32(OW)} + ow;
${S.join("\n")}
  }`;
  };
  // M[e][t] as a vec4 of channels 4·co4 … (clamped past Cout when that is not a multiple of 4).
  const at = (e: string, q: number) =>
    `m[(${e} * ${u32(T)} + t) * ${u32(Cout)} + min(co4 * 4u + ${u32(q)}, ${u32(Cout - 1)})]`;
  const read = vec
    ? `m[(e * ${u32(T)} + t) * ${u32(Co4)} + co4]`
    : `vec4<f32>(${[0, 1, 2, 3].map((q) => at("e", q)).join(", ")})`;
  const bv = bias
    ? `vec4<f32>(${
      [0, 1, 2, 3].map((q) => `bias[min(co4 * 4u + ${u32(q)}, ${u32(Cout - 1)})]`).join(", ")
    })`
    : "vec4<f32>(0.0)";
  const code = `@group(0) @binding(0) var<storage, read> m: array<${vec ? "vec4<f32>" : "f32"}>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
${bias ? "@group(0) @binding(2) var<storage, read> bias: array<f32>;" : ""}
fn act(v: f32) -> f32 { return ${relu ? "max(v, 0.0)" : "v"}; }
${main1d(n)}
  let co4 = i % ${u32(Co4)};
  let t = i / ${u32(Co4)};
  var k: array<vec4<f32>, ${a * a}>;
  for (var e = 0u; e < ${u32(a * a)}; e++) { k[e] = ${read}; }
${L.join("\n")}
  let bv = ${bv};
  let img = ${u32(n0)} + t / ${u32(TH * TW)};
  let oh = ((t / ${u32(TW)}) % ${u32(TH)}) * ${u32(m)};
  let ow = (t % ${u32(TW)}) * ${u32(m)};
  ${[0, 1, 2, 3].map(store).join("")}
}`;
  run(code, bias ? [mt, y, bias] : [mt, y], grid(n));
}

/**
 * conv2d through Winograd F(m×m, 3×3) (the caller checked `winogradApplies`): x [N][C][H][W],
 * w [Cout][C][3][3], a tied bias [Cout] or none, optional fused ReLU. Records no gradient.
 */
export function conv2dWinograd(
  x: Tensor,
  w: Tensor,
  bias: Tensor | null,
  p: ConvGeometry,
  relu: boolean,
): Tensor {
  const g = gpu(), f = transformsFor(p);
  const { TH, TW, nc } = tiling(p, f);
  const xt = padTexture(x, null, {
    N: p.N,
    C: p.C,
    H: p.H,
    W: p.W,
    ...inputLayout(f, TH, TW),
    pt: p.PT,
    pl: p.PL,
  })!;
  // U straight into the B texture when its lines are U's rows ([α²][Cout] lines of C/4
  // texels), else (or for a chunk planned otherwise) a buffer the matmul packs.
  const pb = texturePlanFor(productSpec(p, nc * TH * TW, f))!.b.place;
  const rowsOfU = p.C % 4 === 0 && pb.mats === f.a * f.a && pb.lines === p.Cout &&
    pb.texels === p.C / 4;
  const cached = rowsOfU ? transformedWeights(w, p, f, pb) : null, ub = cached?.tex;
  let u: Tensor | null = null;
  const y = empty([p.N, p.Cout, p.OH, p.OW]);
  for (let n0 = 0; n0 < p.N; n0 += nc) {
    const T = Math.min(nc, p.N - n0) * TH * TW;
    const spec = productSpec(p, T, f);
    const plan = texturePlanFor(spec)!;
    const vt = textureFor(plan.a.size);
    const chunk = { p, f, TH, TW, n0, T };
    inputTransform(xt, chunk, plan.a.place, vt);
    const m = empty([f.a * f.a, T, p.Cout]);
    if (ub && samePlacement(plan.b.place, pb)) {
      gemmInto(null, null, m, spec, undefined, { a: vt, b: ub });
    } else {
      u ??= weightTransform(w, p, f);
      gemmInto(null, u, m, spec, undefined, { a: vt });
    }
    g.releaseTexture(vt);
    outputTransform(m, y, bias, chunk, relu);
    m.dispose();
  }
  u?.dispose();
  if (cached?.owned) g.releaseTexture(cached.tex);
  g.releaseTexture(xt.tex);
  return y;
}
