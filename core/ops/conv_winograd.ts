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
interface Transforms {
  m: number;
  a: number;
  BT: number[][];
  G: number[][];
  AT: number[][];
}

/** Lavin & Gray (2015), interpolation points 0, ±1 (F(2, 3)) and 0, ±1, ±2 (F(4, 3)). */
const F: Record<2 | 4, Transforms> = {
  2: {
    m: 2,
    a: 4,
    BT: [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]],
    G: [[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]],
    AT: [[1, 1, 1, 0], [0, 1, -1, -1]],
  },
  4: {
    m: 4,
    a: 6,
    BT: [
      [4, 0, -5, 0, 1, 0],
      [0, -4, -4, 1, 1, 0],
      [0, 4, -4, -1, 1, 0],
      [0, -2, -1, 2, 1, 0],
      [0, 2, -1, -2, 1, 0],
      [0, 4, 0, -5, 0, 1],
    ],
    G: [
      [1 / 4, 0, 0],
      [-1 / 6, -1 / 6, -1 / 6],
      [-1 / 6, 1 / 6, -1 / 6],
      [1 / 24, 1 / 12, 1 / 6],
      [1 / 24, -1 / 12, 1 / 6],
      [0, 0, 1],
    ],
    AT: [[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0], [0, 1, -1, 8, -8, 1]],
  },
};

/** The output tile's side: 4 (F(4×4, 3×3)) unless a test or benchmark chose 2. */
let tileSide: 2 | 4 = 4;

/** Sets the output tile's side (2 or 4: F(2×2, 3×3) or F(4×4, 3×3)). Returns the old one. */
export function setWinogradTile(m: 2 | 4): 2 | 4 {
  const old = tileSide;
  tileSide = m;
  return old;
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
 * The input texture's layout: m·TH + 2 rows a channel; a patch's row is read as the two
 * texels from its first column's, so up to the last patch's second.
 */
function inputLayout(f: Transforms, TH: number, TW: number): { rows: number; texels: number } {
  return { rows: f.m * TH + 2, texels: ((f.m * (TW - 1)) >> 2) + 2 };
}

/** The product of a chunk of `T` tiles (padded to whole texels): M[e] = U[e] · V[e]. */
function productSpec(p: ConvGeometry, T: number, f: Transforms) {
  const Tp = Math.ceil(T / 4) * 4;
  return {
    batch: f.a * f.a,
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
  const g = gpu(), f = F[tileSide];
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
 * (placement `place`: α² matrices of C lines of ⌈T/4⌉ texels), 4 tiles an invocation.
 */
function inputTransform(xt: PlacedTexture, k: Chunk, place: Placement, tex: GPUTexture): void {
  const { p, f, TH, TW, n0, T } = k;
  const { rows } = inputLayout(f, TH, TW), { m, a } = f;
  const G4 = Math.ceil(T / 4), n = p.C * G4, pitch = stagePitch(place);
  const ad = address(xt.place, "img", `c * ${u32(rows)} + ${u32(m)} * th + ${u32(0)}`);
  const comp = ["x", "y", "z", "w"];
  // Patch columns m·tw … m·tw + α − 1: with m = 4 texels tw, tw + 1; with m = 2 the
  // patch starts at component 0 or 2 of texel tw / 2. Each of the 4 tiles' patches is
  // loaded, then the transform runs once on vec4s (component q: tile q).
  const loads = (q: number) => {
    const L = [
      `  {`,
      `    let t = min(g4 * 4u + ${u32(q)}, ${u32(T - 1)});`,
      `    let img = ${u32(n0)} + t / ${u32(TH * TW)};`,
      `    let th = (t / ${u32(TW)}) % ${u32(TH)};`,
      `    let tw = t % ${u32(TW)};`,
    ];
    if (m === 2) L.push(`    let odd = (tw & 1u) == 1u;`);
    const t0 = m === 4 ? "tw" : "(tw >> 1u)";
    for (let r = 0; r < a; r++) {
      const y = `${ad.y} + ${u32(r)}`;
      L.push(`    let a${r} = textureLoad(X, vec2<u32>(${t0}, ${y}), ${ad.layer});`);
      L.push(`    let b${r} = textureLoad(X, vec2<u32>(${t0} + 1u, ${y}), ${ad.layer});`);
      for (let j = 0; j < a; j++) {
        const c = m === 4
          ? (j < 4 ? `a${r}.${comp[j]}` : `b${r}.${comp[j - 4]}`)
          : `select(a${r}.${comp[j]}, ${
            j < 2 ? `a${r}.${comp[j + 2]}` : `b${r}.${comp[j - 2]}`
          }, odd)`;
        L.push(`    d${r}_${j}[${q}] = ${c};`);
      }
    }
    L.push(`  }`);
    return L.join("\n");
  };
  const T2: string[] = [];
  for (let r = 0; r < a; r++) for (let j = 0; j < a; j++) T2.push(`  var d${r}_${j}: vec4<f32>;`);
  const body = [0, 1, 2, 3].map(loads);
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
      body.push(`  D[(${u32(i * a + j)} * ${u32(p.C)} + c) * ${u32(pitch)} + g4] = ${v};`);
    }
  }
  const code = `@group(0) @binding(0) var X: texture_storage_2d_array<rgba32float, read>;
@group(0) @binding(1) var<storage, read_write> D: array<vec4<f32>>;
${main1d(n)}
  let g4 = i % ${u32(G4)};
  let c = i / ${u32(G4)};
${T2.join("\n")}
${body.join("\n")}
}`;
  staged(code, [gpu().view(xt.tex)], n, place, tex);
}

/** y (images n0 …) from M [α²][Cout][Tp] of T tiles: Aᵀ M A + bias, ReLU. */
function outputTransform(
  mt: Tensor,
  y: Tensor,
  bias: Tensor | null,
  k: Chunk,
  relu: boolean,
): void {
  const { p, f, TH, TW, n0, T } = k;
  const G4 = Math.ceil(T / 4), Tp = G4 * 4, n = p.Cout * G4, { OH, OW, Cout } = p;
  const { m, a } = f;
  const L: string[] = [];
  // Aᵀ M (m × α), then (Aᵀ M) A (m × m): vec4s of the invocation's 4 tiles.
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
        const st = `y[base + ${u32(i * OW + j)}] = act(y${i}_${j}[${q}] + bv);`;
        row.push(j === 0 ? `        ${st}` : `        if (ow + ${u32(j)} < ${u32(OW)}) { ${st} }`);
      }
      S.push(
        i === 0
          ? row.join("\n")
          : `      if (oh + ${u32(i)} < ${u32(OH)}) {\n${row.join("\n")}\n      }`,
      );
    }
    return `
  {
    let t = g4 * 4u + ${u32(q)};
    if (t < ${u32(T)}) {
      let img = ${u32(n0)} + t / ${u32(TH * TW)};
      let oh = ((t / ${u32(TW)}) % ${u32(TH)}) * ${u32(m)};
      let ow = (t % ${u32(TW)}) * ${u32(m)};
      let base = ((img * ${u32(Cout)} + co) * ${u32(OH)} + oh) * ${u32(OW)} + ow;
${S.join("\n")}
    }
  }`;
  };
  const code = `@group(0) @binding(0) var<storage, read> m: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
${bias ? "@group(0) @binding(2) var<storage, read> bias: array<f32>;" : ""}
fn act(v: f32) -> f32 { return ${relu ? "max(v, 0.0)" : "v"}; }
${main1d(n)}
  let g4 = i % ${u32(G4)};
  let co = i / ${u32(G4)};
  var k: array<vec4<f32>, ${a * a}>;
  for (var e = 0u; e < ${u32(a * a)}; e++) { k[e] = m[(e * ${u32(Cout)} + co) * ${
    u32(Tp / 4)
  } + g4]; }
${L.join("\n")}
  let bv = ${bias ? "bias[co]" : "0.0"};
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
  const g = gpu(), f = F[tileSide];
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
  // U straight into the A texture when its lines are U's rows ([α²][Cout] lines of C/4
  // texels), else (or for a chunk planned otherwise) a buffer the matmul packs.
  const pa = texturePlanFor(productSpec(p, nc * TH * TW, f))!.a.place;
  const rowsOfU = p.C % 4 === 0 && pa.mats === f.a * f.a && pa.lines === p.Cout &&
    pa.texels === p.C / 4;
  const ua = rowsOfU ? textureFor(pa.size) : null;
  if (ua) weightTransform(w, p, f, { place: pa, tex: ua });
  let u: Tensor | null = null;
  const y = empty([p.N, p.Cout, p.OH, p.OW]);
  for (let n0 = 0; n0 < p.N; n0 += nc) {
    const T = Math.min(nc, p.N - n0) * TH * TW;
    const spec = productSpec(p, T, f);
    const plan = texturePlanFor(spec)!;
    const vt = textureFor(plan.b.size);
    const chunk = { p, f, TH, TW, n0, T };
    inputTransform(xt, chunk, plan.b.place, vt);
    const m = empty([f.a * f.a, p.Cout, spec.N]);
    if (ua && samePlacement(plan.a.place, pa)) {
      gemmInto(null, null, m, spec, undefined, { a: ua, b: vt });
    } else {
      u ??= weightTransform(w, p, f);
      gemmInto(u, null, m, spec, undefined, { b: vt });
    }
    g.releaseTexture(vt);
    outputTransform(m, y, bias, chunk, relu);
    m.dispose();
  }
  u?.dispose();
  if (ua) g.releaseTexture(ua);
  g.releaseTexture(xt.tex);
  return y;
}
