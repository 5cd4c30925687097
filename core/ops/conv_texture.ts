/**
 * The kernels through which convolution feeds the software adapters' texture matmul
 * directly (see `matmul_texture.ts`): im2col written straight into the column matrix's
 * texture (no column buffer, no packing pass), and the output gradient packed once, with
 * the fused ReLU's mask applied, into the one texture both backward products read (dW's A
 * and dX's B have the same layout). The column texture of the forward is kept for dW.
 *
 * Layouts (per image and group b, in the plan's placement): the column matrix is Kp lines
 * of P positions, the gradient CoutG lines of P positions; texel t of a line holds
 * positions 4t … 4t + 3 (zeros past P). The kernels write a staging buffer with padded
 * lines and copies fill the texture (`stagedCopies`): `textureStore` is far slower on
 * Mesa's software adapters.
 *
 * @module
 */
import { gpu } from "../gpu.ts";
import type { Tensor } from "../tensor.ts";
import type { ConvGeometry } from "./conv_ref.ts";
import { grid, main1d, run } from "./kernel.ts";
import { runReading } from "./texture_read.ts";
import { type Placement, stagedCopies, stagePitch, type TexSize } from "./matmul_texture.ts";
import { address, packSteps, place } from "./texture_layout.ts";
import { packOperand } from "./matmul.ts";

/** The im2col sizes `conv.ts` plans (a subset of its Plan). */
export interface ColPlan extends ConvGeometry {
  /** Kernel taps per group: Cg·KH·KW. */
  Kg: number;
  /** Packed row length (Kg, + 1 bias row, rounded up to 4). */
  Kp: number;
  /** Whether row Kg is the bias's row of ones. */
  hasBias: boolean;
  /** Output positions per image. */
  P: number;
}

/** A pooled texture of at least `size` (a plan's `a.size` or `b.size`). */
export function textureFor(size: TexSize): GPUTexture {
  return gpu().acquireTexture(size.width, size.height, size.layers);
}

/**
 * Records `code` (binding 0..k−1 `inputs`, binding k the staging buffer of placement
 * `place`: its lines `stagePitch` texels apart), then the copies from there into `tex`.
 * Inputs named in `reads` (read-only `array<vec4<f32>>` bindings, or with `scalars` also
 * `array<f32>` ones) are read through textures where the adapter's storage loads are slow
 * (`runReading`).
 */
export function staged(
  code: string,
  inputs: (Tensor | GPUTextureView)[],
  n: number,
  place: Placement,
  tex: GPUTexture,
  reads: (string | null)[] = [],
  scalars = false,
) {
  const g = gpu(), bytes = place.mats * place.lines * stagePitch(place) * 16;
  const staging = g.acquire(bytes);
  const binds = [...inputs, { buffer: staging, offset: 0, size: bytes }];
  if (reads.some((r) => r !== null)) runReading(code, binds, reads, grid(n), { scalars });
  else run(code, binds, grid(n));
  for (const st of stagedCopies(place)) {
    if (st.kind !== "copy") continue;
    g.copyToTexture(staging, 0, st, tex);
  }
  g.release(staging); // commands already recorded still see it
}

/** A conv input as a texture: image n's row (c, h) is line c·H + h of matrix n. */
export interface InputTexture {
  tex: GPUTexture;
  place: Placement;
}

/**
 * x [N][C][H][W] in a texture (one line per row of W floats), so im2col reads each tap with
 * a `textureLoad` instead of a storage load (which Mesa's software adapters scalarise per
 * lane with a bounds check): the input is read from storage once instead of KH·KW times.
 * Null when it does not fit the texture limits. Release `tex` with `gpu().releaseTexture`.
 */
export function inputTexture(x: Tensor, p: ConvGeometry): InputTexture | null {
  const g = gpu();
  const pl = place(p.N, p.C * p.H, p.W, { maxDim: g.maxTextureDim, maxLayers: g.maxTextureLayers });
  if (!pl) return null;
  const steps = packSteps(pl, p.W, p.C * p.H * p.W);
  const tex = packOperand({ buffer: x.buffer, offset: 0, size: Math.max(4, x.bytes) }, {
    size: pl.size,
    place: pl,
    steps,
  });
  return { tex, place: pl };
}

/**
 * Writes the column matrix of images n0 … n0 + nc − 1 of x into `tex` (placement `place`:
 * nc·G matrices of Kp lines of P positions): one invocation per texel. With `xt` (x as
 * `inputTexture` made it) the taps are texture loads, else storage loads of x.
 */
export function im2colTexture(
  x: Tensor,
  p: ColPlan,
  n0: number,
  nc: number,
  place: Placement,
  tex: GPUTexture,
  xt: InputTexture | null = null,
): void {
  const { P, Kp, Kg, G, Cg, C, H, W, KH, KW, OW, SH, SW, DH, DW, PT, PL } = p;
  const T = place.texels, n = nc * G * Kp * T;
  const read = (j: number) => {
    if (!xt) return `v[${j}] = x[xb + u32(ih) * ${W}u + u32(iw)];`;
    const ad = address(xt.place, "img", `ci * ${H}u + u32(ih)`);
    return `v[${j}] = textureLoad(X, vec2<u32>(u32(iw) / 4u, ${ad.y}), ${ad.layer})[u32(iw) & 3u];`;
  };
  const tap = (j: number) => `
    {
      let q = q0 + ${j}u;
      let ih = i32(q / ${OW}u) * ${SH} + ky;
      let iw = i32(q % ${OW}u) * ${SW} + kx;
      if (q < ${P}u && ih >= 0 && ih < ${H} && iw >= 0 && iw < ${W}) {
        ${read(j)}
      }
    }`;
  const ones = `select(vec4<f32>(0.0), vec4<f32>(1.0), ` +
    `vec4<u32>(q0, q0 + 1u, q0 + 2u, q0 + 3u) < vec4<u32>(${P}u))`;
  const xDecl = xt
    ? "@group(0) @binding(0) var X: texture_storage_2d_array<rgba32float, read>;"
    : "@group(0) @binding(0) var<storage, read> x: array<f32>;";
  const code = `${xDecl}
@group(0) @binding(1) var<storage, read_write> col: array<vec4<f32>>;
${main1d(n)}
  let t = i % ${T}u;
  let line = i / ${T}u;
  let kp = line % ${Kp}u;
  let b = line / ${Kp}u;
  let q0 = t * 4u;
  var v = vec4<f32>(0.0);
  if (kp < ${Kg}u) {
    let ci = (b % ${G}u) * ${Cg}u + kp / ${KH * KW}u;
    let r = kp % ${KH * KW}u;
    let ky = i32(r / ${KW}u) * ${DH} - ${PT};
    let kx = i32(r % ${KW}u) * ${DW} - ${PL};
    ${
    xt
      ? `let img = ${n0}u + b / ${G}u;`
      : `let xb = (${n0}u + b / ${G}u) * ${C * H * W}u + ci * ${H * W}u;`
  }
    ${[0, 1, 2, 3].map(tap).join("")}
  }${p.hasBias ? ` else if (kp == ${Kg}u) { v = ${ones}; }` : ""}
  col[line * ${stagePitch(place)}u + t] = v;
}`;
  staged(code, [xt ? gpu().view(xt.tex) : x], n, place, tex);
}

/**
 * Packs the output gradient of images n0 … n0 + nc − 1 (g [N][Cout][P], times the ReLU
 * mask y > 0 when `y` is given) into `tex` (placement `place`: nc·G matrices of CoutG lines
 * of P positions): one invocation per texel.
 */
export function packGradTexture(
  g: Tensor,
  y: Tensor | null,
  p: ColPlan,
  n0: number,
  nc: number,
  place: Placement,
  tex: GPUTexture,
): void {
  const { P, G, CoutG } = p;
  const T = place.texels, n = nc * G * CoutG * T;
  const load = (j: number) => {
    const idx = `min(base + q0 + ${j}u, ${g.size - 1}u)`;
    const v = y ? `select(0.0, g[${idx}], yv[${idx}] > 0.0)` : `g[${idx}]`;
    return `select(0.0, ${v}, q0 + ${j}u < ${P}u)`;
  };
  const code = `@group(0) @binding(0) var<storage, read> g: array<f32>;
${y ? "@group(0) @binding(1) var<storage, read> yv: array<f32>;" : ""}
@group(0) @binding(${y ? 2 : 1}) var<storage, read_write> gt: array<vec4<f32>>;
${main1d(n)}
  let t = i % ${T}u;
  let line = i / ${T}u;
  let q0 = t * 4u;
  let base = (${n0 * G * CoutG}u + line) * ${P}u;
  gt[line * ${stagePitch(place)}u + t] = vec4<f32>(${[0, 1, 2, 3].map(load).join(", ")});
}`;
  staged(code, y ? [g, y] : [g], n, place, tex);
}
