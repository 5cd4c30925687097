/**
 * Winograd F(m×m, 3×3) convolution (m = 6 or 4 per layer, or fixed to 2, 4 or 6) for the
 * no-gradient path on software adapters (frozen layers: VGG16's features): 3×3, stride 1,
 * dilation 1, one group. Each m×m block of outputs ("tile") comes from an α×α patch of the
 * input (α = m + 2), with α² multiplies per input and output channel instead of 9m²
 * (F(6×6): 64 for 324; F(4×4): 36 for 144); as α² independent matmuls it runs on the
 * texture matmul.
 *
 *   V = Bᵀ d B (input patch d, per channel and tile)     U = G g Gᵀ (kernel g, per pair)
 *   M[e] = V[e] · U[e]ᵀ for the α² positions e            Y = Aᵀ M A (+ bias, ReLU)
 *
 * with Toom-Cook matrices (`winogradTransforms`), the kernels' WGSL generated from them
 * (zero coefficients dropped, ±1 as additions).
 *
 * - The input transform reads each channel's α patch rows from x's flat copy (⌈(α + 3)/4⌉
 *   texels a row, the padding as zeros; through a padded-row texture, `padTexture`, when x's
 *   size is not a multiple of 4), transforms 4 channels of one tile at once as vec4s and
 *   writes V straight into the staging layout of the matmul's A operand (α² matrices of T
 *   lines × C).
 * - U goes straight into the B texture ([α²][Cout] lines × C) and is kept there between
 *   calls while the weight buffer is unchanged (`Gpu.version`).
 * - The output transform (`conv_winograd_output.ts`) reads M as vec4s (4 channels) and
 *   writes y with the bias (one texel of a flat texture when Cout is a multiple of 4) and
 *   ReLU.
 *   When Cout is a multiple of 64 (every VGG16 layer) M's rows are copied into a texture
 *   first (`mTexture`) and read with `textureLoad`: its 64 storage loads an invocation, each
 *   scalarised per lane, took four fifths of the transform's time.
 * - Images go in chunks so V and M stay within 64 MiB each.
 *
 * @module
 */
import { gpu } from "../gpu.ts";
import { empty, type Tensor } from "../tensor.ts";
import type { ConvGeometry } from "./conv_ref.ts";
import { main1d } from "./kernel.ts";
import { gemmInto, texturePlanFor } from "./matmul.ts";
import { u32 } from "./matmul_spec.ts";
import { address, type Placement, samePlacement, stagePitch } from "./texture_layout.ts";
import { staged, textureFor } from "./conv_texture.ts";
import { type Chunk, mTexture, outputTransform } from "./conv_winograd_output.ts";
import { padTexture, type PlacedTexture } from "./conv_direct.ts";
import { transformedWeights, weightTransform } from "./conv_winograd_weights.ts";
import { lin, type Transforms, winogradTransforms } from "./winograd_matrices.ts";
import { flatDecl, flatLoad, type FlatTexture, flatTexture } from "./texture_read.ts";

export { setWinogradWeightCache } from "./conv_winograd_weights.ts";
export { type Transforms, winogradTransforms } from "./winograd_matrices.ts";

let enabled = true;

/** Turns the Winograd kernels on or off (benchmarks compare them). Returns the old setting. */
export function setConvWinograd(on: boolean): boolean {
  const old = enabled;
  enabled = on;
  return old;
}

let flatInput = true;

/**
 * Whether the input transform reads x's flat copy (the default) rather than a padded-row
 * texture packed for it (tests run both). Returns the old setting.
 */
export function setWinogradFlatInput(on: boolean): boolean {
  const old = flatInput;
  flatInput = on;
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

/** Whether the product reads U N-major (`MatmulSpec.bNMajor`; Cout ≤ 1024, a multiple of 4). */
let nMajorU = true;

/** Sets that (tests run both layouts, benchmarks compare them). Returns the old setting. */
export function setWinogradNMajorU(on: boolean): boolean {
  const old = nMajorU;
  nMajorU = on;
  return old;
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
    bNMajor: nMajorU && p.Cout % 4 === 0 && p.Cout <= 1024,
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
 * V of tiles t0 … t0 + T − 1 (global tile index = image·TH·TW + th·TW + tw) into `tex`
 * (placement `place`: α² matrices of T lines of ⌈C/4⌉ texels), one tile and 4 channels an
 * invocation: each channel's patch is loaded, then the transform runs once on vec4s
 * (component q: channel 4·c4 + q; zeros past C).
 */
function inputTransform(src: Source, k: Chunk, place: Placement, tex: GPUTexture): void {
  const { p, f, TH, TW, n0, T } = k;
  const { rows } = inputLayout(f, TH, TW), { m, a } = f;
  const C4 = Math.ceil(p.C / 4), n = T * C4, pitch = stagePitch(place);
  const comp = ["x", "y", "z", "w"];
  const xt = "padded" in src ? src.padded : null;
  // Patch columns m·tw … m·tw + α − 1: texels from (m·tw) / 4, starting at component
  // 0 (m a multiple of 4) or at 0 or 2 (`odd`: tw odd).
  const nt = patchTexels(f), split = m % 4 !== 0;
  const el = (r: number, off: number, j: number) =>
    `t${(off + j) >> 2}_${r}.${comp[(off + j) & 3]}`;
  const padded = (xt: PlacedTexture) => (q: number) => {
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
  // From the flat copy of x: patch row r of a channel is α floats from float a_r of x (any
  // alignment): the ⌈(α + 3)/4⌉ texels from a_r / 4, its floats picked by a_r mod 4 (the same
  // for all the row's), zero outside x's rows and columns (the convolution's padding).
  const ft = "flat" in src ? src.flat : null, fn = Math.ceil((a + 3) / 4);
  const lastTexel = Math.ceil((p.N * p.C * p.H * p.W) / 4) - 1;
  const flat = (q: number) => {
    const ch = `min(c4 * 4u + ${u32(q)}, ${u32(p.C - 1)})`;
    const L = [`  {`, `    let cb = i32((img * ${u32(p.C)} + ${ch}) * ${u32(p.H * p.W)});`];
    for (let r = 0; r < a; r++) {
      L.push(`    let r${r} = i32(${u32(m)} * th) + ${r - p.PT};`);
      L.push(`    let a${r} = cb + max(r${r}, 0) * ${p.W} + c0;`);
      L.push(`    let k${r} = a${r} >> 2u;`);
      L.push(`    let sh${r} = a${r} & 3;`);
      L.push(`    let ok${r} = r${r} >= 0 && r${r} < ${p.H};`);
      for (let t = 0; t < fn; t++) {
        const idx = `u32(clamp(k${r} + ${t}, 0, ${lastTexel}))`;
        L.push(`    let t${t}_${r} = ${flatLoad("X", idx, ft!)};`);
      }
      const w = (e: number) => `t${e >> 2}_${r}.${comp[e & 3]}`;
      for (let j = 0; j < a; j++) {
        const e = `select(select(select(${w(j)}, ${w(j + 1)}, sh${r} == 1), ${w(j + 2)}, ` +
          `sh${r} == 2), ${w(j + 3)}, sh${r} == 3)`;
        L.push(`    d${r}_${j}[${q}] = select(0.0, ${e}, ok${r} && col${j});`);
      }
    }
    L.push(`  }`);
    return L.join("\n");
  };
  const T2: string[] = [];
  for (let r = 0; r < a; r++) for (let j = 0; j < a; j++) T2.push(`  var d${r}_${j}: vec4<f32>;`);
  if (ft) {
    T2.push(`  let c0 = i32(${u32(m)} * tw) - ${p.PL};`);
    for (let j = 0; j < a; j++) T2.push(`  let col${j} = c0 + ${j} >= 0 && c0 + ${j} < ${p.W};`);
  }
  const body = [0, 1, 2, 3].map(xt ? padded(xt) : flat);
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
  const code = `${flatDecl(0, "X")}
@group(0) @binding(1) var<storage, read_write> D: array<vec4<f32>>;
${main1d(n)}
  let c4 = i % ${u32(C4)};
  let t = i / ${u32(C4)};
  let img = ${u32(n0)} + t / ${u32(TH * TW)};
  let th = (t / ${u32(TW)}) % ${u32(TH)};
  let tw = t % ${u32(TW)};
  let x0 = (${u32(m)} * tw) >> 2u;
${split && xt ? "  let odd = (tw & 1u) == 1u;\n" : ""}${T2.join("\n")}
${body.join("\n")}
}`;
  staged(code, [gpu().view(xt ? xt.tex : ft!.tex)], n, place, tex);
}

/** Where the input transform reads x: a padded-row texture, or x's flat copy. */
type Source = { padded: PlacedTexture } | { flat: FlatTexture };

/**
 * conv2d through Winograd F(m×m, 3×3) (the caller checked `winogradApplies`): x [N][C][H][W],
 * w [Cout][C][3][3], a tied bias [Cout] or none, optional fused ReLU, and with `pool` a fused
 * 2×2 stride-2 max pool (floor mode; OH, OW ≥ 2): the output is then the pooled [N][Cout][⌊OH/2⌋]
 * [⌊OW/2⌋], and the full-size output is never written. Records no gradient.
 */
export function conv2dWinograd(
  x: Tensor,
  w: Tensor,
  bias: Tensor | null,
  p: ConvGeometry,
  relu: boolean,
  pool = false,
): Tensor {
  const g = gpu(), f = transformsFor(p);
  const { TH, TW, nc } = tiling(p, f);
  // x's flat copy when it has one (its size a multiple of 4), else a padded-row texture.
  const fx = flatInput && x.size % 4 === 0 ? flatTexture(x.buffer, 0, x.size / 4) : null;
  const xt = fx ? null : padTexture(x, null, {
    N: p.N,
    C: p.C,
    H: p.H,
    W: p.W,
    ...inputLayout(f, TH, TW),
    pt: p.PT,
    pl: p.PL,
  })!;
  const src: Source = fx ? { flat: fx } : { padded: xt! };
  // U straight into the B texture when its lines are U's rows or columns ([α²][Cout] lines
  // of C/4 texels, or N-major [α²][C] lines of Cout/4), else (or for a chunk planned
  // otherwise) a buffer the matmul packs.
  const spec0 = productSpec(p, nc * TH * TW, f), pb = texturePlanFor(spec0)!.b.place;
  const [lines, cols] = spec0.bNMajor ? [p.C, p.Cout] : [p.Cout, p.C];
  const direct = cols % 4 === 0 && pb.mats === f.a * f.a && pb.lines === lines &&
    pb.texels === cols / 4;
  const cached = direct ? transformedWeights(w, p, f, pb, !!spec0.bNMajor) : null;
  const ub = cached?.tex;
  let u: Tensor | null = null;
  const y = empty(
    pool ? [p.N, p.Cout, Math.floor(p.OH / 2), Math.floor(p.OW / 2)] : [p.N, p.Cout, p.OH, p.OW],
  );
  for (let n0 = 0; n0 < p.N; n0 += nc) {
    const T = Math.min(nc, p.N - n0) * TH * TW;
    const spec = productSpec(p, T, f);
    const plan = texturePlanFor(spec)!;
    const vt = textureFor(plan.a.size);
    const chunk = { p, f, TH, TW, n0, T };
    inputTransform(src, chunk, plan.a.place, vt);
    const m = empty([f.a * f.a, T, p.Cout]);
    if (ub && samePlacement(plan.b.place, pb)) {
      gemmInto(null, null, m, spec, undefined, { a: vt, b: ub });
    } else {
      u ??= weightTransform(w, p, f);
      gemmInto(null, u, m, spec, undefined, { a: vt });
    }
    g.releaseTexture(vt);
    const mt = mTexture(m, f, T, p.Cout);
    outputTransform(mt ?? m, y, bias, chunk, relu, pool);
    if (mt) g.releaseTexture(mt.tex);
    m.dispose();
  }
  u?.dispose();
  if (cached?.owned) g.releaseTexture(cached.tex);
  g.releaseTexture(fx ? fx.tex : xt!.tex);
  return y;
}
