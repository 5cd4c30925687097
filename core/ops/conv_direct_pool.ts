/**
 * The fused 2×2 max pool of the direct convolution (`conv2dMaxPool2` in conv.ts): the
 * product's epilogue that pools each invocation's two rows of 4 positions into 2 windows a
 * channel, and the backward's read of the pooled gradient through the saved winners when
 * the output gradient is packed for the two gradient products.
 *
 * @module
 */
import type { Tensor } from "../tensor.ts";
import { main1d } from "./kernel.ts";
import { u32 } from "./matmul_spec.ts";

/**
 * The fused 2×2 max pool of the product's output (stride 2, floor mode): `out` is then the
 * pooled [N][M][⌊OH/2⌋][⌊OW/2⌋], and `am` (when given) receives each window's winning tap
 * (0 … 3, row-major; the first maximum or the first NaN, as `maxPool2d`).
 */
export interface DirectPool {
  am: Tensor | null;
}

/**
 * A pooled source for `padTexture`: src and mask are a fused 2×2 max pool's output gradient
 * and output [N][C][OHp][OWp], `am` its winners; element (h, w) of the [H][W] plane is the
 * window's gradient where (h, w) is its winning tap, else 0 (the max pool's backward).
 */
export interface PooledSource {
  am: Tensor;
  OHp: number;
  OWp: number;
}

/**
 * Texels of one line an invocation of the packing kernels fills (the line's index
 * arithmetic shared). Measured on lavapipe against one texel an invocation: the Fashion-MNIST
 * CNN's packs took about half the time with 8 (4: about 25% less; a whole line: as 8).
 */
export const PAD_TEXELS = 8;

/** The padded texture `padTexture` packs (lines of `rows` a channel, padding `pt`, `pl`). */
export interface PadDims {
  N: number;
  C: number;
  rows: number;
  texels: number;
  pt: number;
  pl: number;
}

/**
 * `padTexture`'s kernel for a pooled source, and its invocation count. An invocation owns
 * one texel of two neighbouring lines that hold the two rows of one row of windows (lines
 * 2k − s and 2k + 1 − s, s = pt mod 2, so a line pair never straddles two window rows);
 * the texel's 4 columns 4t − pl … 4t + 3 − pl meet 2 or 3 windows (by the parity of pl),
 * and each window's winner, output and gradient are read once, for both lines: its
 * gradient lands in the component of its winning column, in the line of its winning row.
 * Lines outside the windows (padding, a dropped odd last row) are zeros.
 */
export function pooledPadCode(
  d: PadDims,
  o: PooledSource,
  masked: boolean,
  pitch: number,
): { code: string; n: number } {
  const s = d.pt % 2, K = Math.ceil((d.rows + s) / 2);
  const U = Math.min(d.texels, PAD_TEXELS), TG = Math.ceil(d.texels / U);
  const n = d.N * d.C * K * TG;
  const b = [
    "@group(0) @binding(0) var<storage, read> s: array<f32>;",
    ...(masked ? ["@group(0) @binding(1) var<storage, read> m: array<f32>;"] : []),
  ];
  b.push(`@group(0) @binding(${b.length}) var<storage, read> a: array<i32>;`);
  b.push(`@group(0) @binding(${b.length}) var<storage, read_write> D: array<vec4<f32>>;`);
  const wins: string[] = [];
  for (let k = 0; k < (d.pl % 2 === 0 ? 2 : 3); k++) {
    wins.push(`      {
        let pw = pw0 + ${k};
        if (pw >= 0 && pw < ${o.OWp}) {
          let pi = prow + u32(pw);
          let w = a[pi];
          let hit = vec4<i32>(0, 1, 2, 3) == vec4<i32>(2 * pw + (w & 1) - c0);
          if (${masked ? "m[pi] > 0.0" : "true"}) {
            let gv = vec4<f32>(s[pi]);
            if ((w >> 1u) == 0) { v0 = select(v0, gv, hit); } else { v1 = select(v1, gv, hit); }
          }
        }
      }`);
  }
  const texel = (u: number) => {
    const body = `    var v0 = vec4<f32>(0.0);
    var v1 = vec4<f32>(0.0);
    if (rowOk) {
      let c0 = i32(t * 4u) - ${d.pl};
      let pw0 = (c0 - (c0 & 1)) / 2;
${wins.join("\n")}
    }
    if (l0 >= 0) { D[d0 + t] = v0; }
    if (l0 + 1 < ${d.rows}) { D[d1 + t] = v1; }`;
    const guard = u > 0 && d.texels % U !== 0;
    return `  {
    let t = tg * ${u32(U)} + ${u32(u)};
${
      guard
        ? `    if (t < ${u32(d.texels)}) {
${body}
    }`
        : body
    }
  }`;
  };
  const code = `${b.join("\n")}
${main1d(n)}
  let tg = i % ${u32(TG)};
  let q = i / ${u32(TG)};
  let k = q % ${u32(K)};
  let nc = q / ${u32(K)};
  let l0 = i32(k * 2u) - ${s};
  let ph = i32(k) - ${(d.pt + s) / 2};
  let rowOk = ph >= 0 && ph < ${o.OHp};
  let prow = (nc * ${u32(o.OHp)} + u32(ph)) * ${u32(o.OWp)};
  let base = nc * ${u32(d.rows)};
  let d0 = (base + u32(l0)) * ${u32(pitch)};
  let d1 = (base + u32(l0 + 1)) * ${u32(pitch)};
${[...Array(U).keys()].map(texel).join("\n")}
}`;
  return { code, n };
}

/**
 * The pooled epilogue: for each channel and each of the invocation's `PT` texel columns q,
 * the two windows of its 2 × 4 positions (groups q and PT + q: window h holds columns
 * 2h, 2h + 1 of both rows), their maximum and winning tap (the first maximum, or the first
 * NaN, in row-major order as `maxPool2d`), stored at pooled column 2·xt_q + h when it
 * exists (`xq_q`: the texel before clamping).
 */
export function pooledStores(
  L: string[],
  o: {
    M: number;
    OHp: number;
    OWp: number;
    TMp: number;
    PT: number;
    V: number;
    /** Channel i's bias (an expression), or null. */
    bias: ((i: number) => string) | null;
    relu: boolean;
    arg: boolean;
  },
): void {
  for (let q = 0; q < o.PT; q++) {
    L.push(`  let pc${q} = xq${q} * 2u;`);
    L.push(`  let prow${q} = (oh0 / 2u) * ${u32(o.OWp)} + pc${q};`);
  }
  for (let i = 0; i < o.TMp; i++) {
    L.push(`  if (m0 + ${u32(i)} < ${u32(o.M)}) {`);
    L.push(`    let ob = (bz * ${u32(o.M)} + m0 + ${u32(i)}) * ${u32(o.OHp * o.OWp)};`);
    if (o.bias) L.push(`    let bv = ${o.bias(i)};`);
    for (let q = 0; q < o.PT; q++) {
      const j0 = 4 * q, j1 = 4 * (o.PT + q); // the texel's positions in rows 0 and 1
      for (let h = 0; h < 2; h++) {
        const taps = [j0 + 2 * h, j0 + 2 * h + 1, j1 + 2 * h, j1 + 2 * h + 1]
          .map((j) => {
            const v = o.bias ? `c${i}_${j} + bv` : `c${i}_${j}`;
            return o.relu ? `max(${v}, 0.0)` : v;
          });
        const b = `b${q}_${h}`, w = `w${q}_${h}`;
        L.push(`    var ${b} = ${taps[0]};`);
        L.push(`    var ${w} = 0;`);
        for (let t = 1; t < 4; t++) {
          const v = `v${q}_${h}_${t}`;
          L.push(`    let ${v} = ${taps[t]};`);
          L.push(
            `    if (${v} > ${b} || (${v} != ${v} && ${b} == ${b})) { ${b} = ${v}; ${w} = ${t}; }`,
          );
        }
      }
      if (o.V === 2) {
        L.push(`    if (pc${q} < ${u32(o.OWp)}) {`);
        L.push(`      Y[(ob + prow${q}) / 2u] = vec2<f32>(b${q}_0, b${q}_1);`);
        if (o.arg) L.push(`      AM[(ob + prow${q}) / 2u] = vec2<i32>(w${q}_0, w${q}_1);`);
        L.push(`    }`);
      } else {
        for (let h = 0; h < 2; h++) {
          L.push(`    if (pc${q} + ${u32(h)} < ${u32(o.OWp)}) {`);
          L.push(`      Y[ob + prow${q} + ${u32(h)}] = b${q}_${h};`);
          if (o.arg) L.push(`      AM[ob + prow${q} + ${u32(h)}] = w${q}_${h};`);
          L.push(`    }`);
        }
      }
    }
    L.push(`  }`);
  }
}
