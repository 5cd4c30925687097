/**
 * Implicit-GEMM convolution forward (no column matrix): each invocation keeps TM output
 * channels × TN neighbouring output positions in registers and gathers the input taps it
 * needs straight from x, with bounds checks for the padding. It exists to be measured
 * against im2col + the tuned matmul (`bench/conv.ts` prints both). `conv2d` does not use
 * it: every adapter takes the im2col path, which measured faster (see `conv.ts`).
 *
 * @module
 */
import { gpu } from "../gpu.ts";
import { empty, type Tensor } from "../tensor.ts";
import type { ConvGeometry } from "./conv_ref.ts";

/** Register tile of the implicit kernel. */
export interface ImplicitTuning {
  /** Output channels per invocation. */
  tm: number;
  /** Output positions per invocation. */
  tn: number;
  /** Invocations per workgroup (along positions). */
  wg: number;
}

/** Default tile. */
export const IMPLICIT_TUNING: ImplicitTuning = { tm: 8, tn: 4, wg: 64 };

/**
 * y = conv(x, w) + bias (tied, [Cout]) with optional ReLU, by implicit GEMM. Workgroups
 * run along output positions; the output-channel tile and the image come from the
 * workgroup id, so every weight load is uniform across a workgroup.
 */
export function conv2dImplicit(
  x: Tensor,
  w: Tensor,
  bias: Tensor | null,
  g: ConvGeometry,
  relu = false,
  t: ImplicitTuning = IMPLICIT_TUNING,
): Tensor {
  const { N, C, H, W, Cout, KH, KW, SH, SW, DH, DW, PT, PL, G, Cg, CoutG, OH, OW } = g;
  const P = OH * OW, K = Cg * KH * KW;
  const TM = t.tm, TN = t.tn;
  const mTiles = Math.ceil(CoutG / TM), pTiles = Math.ceil(P / TN);
  const gx = Math.ceil(pTiles / t.wg);
  const y = empty([N, Cout, OH, OW]);
  const L: string[] = [];
  L.push(`@group(0) @binding(0) var<storage, read> x: array<f32>;`);
  L.push(`@group(0) @binding(1) var<storage, read> w: array<f32>;`);
  L.push(`@group(0) @binding(2) var<storage, read_write> y: array<f32>;`);
  if (bias) L.push(`@group(0) @binding(3) var<storage, read> bias: array<f32>;`);
  L.push(`@compute @workgroup_size(${t.wg})`);
  L.push(`fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {`);
  L.push(`  let pt = wid.x * ${t.wg}u + lid.x;`);
  L.push(`  if (pt >= ${pTiles}u) { return; }`);
  L.push(`  let grp = wid.y / ${mTiles}u;`);
  L.push(`  let co0 = grp * ${CoutG}u + (wid.y % ${mTiles}u) * ${TM}u;`);
  L.push(`  let n = wid.z;`);
  L.push(`  let xn = (n * ${C}u + grp * ${Cg}u) * ${H * W}u;`);
  for (let j = 0; j < TN; j++) {
    L.push(`  let q${j} = min(pt * ${TN}u + ${j}u, ${P - 1}u);`);
    L.push(`  let ih${j} = i32(q${j} / ${OW}u) * ${SH} - ${PT};`);
    L.push(`  let iw${j} = i32(q${j} % ${OW}u) * ${SW} - ${PL};`);
  }
  for (let i = 0; i < TM; i++) {
    L.push(`  let wr${i} = min(co0 + ${i}u, ${Cout - 1}u) * ${K}u;`);
    for (let j = 0; j < TN; j++) L.push(`  var c${i}_${j} = 0.0;`);
  }
  L.push(`  for (var ci = 0u; ci < ${Cg}u; ci++) {`);
  L.push(`    let xc = xn + ci * ${H * W}u;`);
  L.push(`    let wc = ci * ${KH * KW}u;`);
  L.push(`    for (var ky = 0; ky < ${KH}; ky++) {`);
  L.push(`      for (var kx = 0; kx < ${KW}; kx++) {`);
  L.push(`        let tap = wc + u32(ky * ${KW} + kx);`);
  for (let j = 0; j < TN; j++) {
    L.push(`        let r${j} = ih${j} + ky * ${DH};`);
    L.push(`        let s${j} = iw${j} + kx * ${DW};`);
    L.push(
      `        let ok${j} = u32(r${j}) < ${H}u && u32(s${j}) < ${W}u;`,
    );
    L.push(
      `        let b${j} = select(0.0, x[select(0u, xc + u32(r${j}) * ${W}u + u32(s${j}), ok${j})], ok${j});`,
    );
  }
  for (let i = 0; i < TM; i++) {
    L.push(`        let a${i} = w[wr${i} + tap];`);
    for (let j = 0; j < TN; j++) L.push(`        c${i}_${j} = fma(a${i}, b${j}, c${i}_${j});`);
  }
  L.push(`      }`);
  L.push(`    }`);
  L.push(`  }`);
  for (let i = 0; i < TM; i++) {
    L.push(`  if (co0 + ${i}u < (grp + 1u) * ${CoutG}u) {`);
    L.push(`    let yb = (n * ${Cout}u + co0 + ${i}u) * ${P}u + pt * ${TN}u;`);
    for (let j = 0; j < TN; j++) {
      let e = `c${i}_${j}`;
      if (bias) e = `${e} + bias[co0 + ${i}u]`;
      if (relu) e = `max(${e}, 0.0)`;
      L.push(`    if (pt * ${TN}u + ${j}u < ${P}u) { y[yb + ${j}u] = ${e}; }`);
    }
    L.push(`  }`);
  }
  L.push(`}`);
  const code = L.join("\n");
  const wgs: [number, number, number] = [gx, G * mTiles, N];
  if (wgs.some((v) => v > 65535)) throw new Error(`conv2dImplicit: grid [${wgs}] too large`);
  gpu().dispatch(
    code,
    [x.buffer, w.buffer, y.buffer, ...(bias ? [bias.buffer] : [])],
    wgs,
  );
  return y;
}
