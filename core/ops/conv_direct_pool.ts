/**
 * The fused 2×2 max pool of the direct convolution (`conv2dMaxPool2` in conv.ts): the
 * product's epilogue that pools each invocation's two rows of 4 positions into 2 windows a
 * channel, and the backward's read of the pooled gradient through the saved winners when
 * the output gradient is packed for the two gradient products.
 *
 * @module
 */
import type { Tensor } from "../tensor.ts";
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
 * `padTexture`'s WGSL for texel t read through the max pool's backward (`sr`, `rowOk`, `ph`,
 * `nc` and `v` in scope; bindings s (gradient), m (pooled output, when `masked`) and a
 * (winners)). Its 4 columns 4t − pl … 4t + 3 − pl meet 2 or 3 windows (by the parity of
 * pl); each window's winner, value and gradient are read once, and its gradient lands in
 * the component of its winning column when that is in this texel and row.
 */
export function pooledTexel(o: PooledSource, pl: number, masked: boolean): string {
  const L = [
    `  let c0 = i32(t * 4u) - ${pl};`,
    `  let pw0 = (c0 - (c0 & 1)) / 2;`,
    `  let rowPar = i32(u32(sr) % 2u);`,
  ];
  for (let k = 0; k < (pl % 2 === 0 ? 2 : 3); k++) {
    L.push(`  {
    let pw = pw0 + ${k};
    if (rowOk && ph < ${u32(o.OHp)} && pw >= 0 && pw < ${o.OWp}) {
      let pi = (nc * ${u32(o.OHp)} + ph) * ${u32(o.OWp)} + u32(pw);
      let w = a[pi];
      let col = 2 * pw + (w & 1) - c0;
      if ((w >> 1u) == rowPar${masked ? " && m[pi] > 0.0" : ""}) {
        v = select(v, vec4<f32>(s[pi]), vec4<i32>(0, 1, 2, 3) == vec4<i32>(col));
      }
    }
  }`);
  }
  return L.join("\n");
}

/**
 * The pooled epilogue: for each channel, the two windows of the invocation's 2 × 4
 * positions (window h holds columns 2h, 2h + 1 of both rows), their maximum and winning
 * tap (the first maximum, or the first NaN, in row-major order as `maxPool2d`), stored at
 * pooled column 2·xt + h when it exists.
 */
export function pooledStores(
  L: string[],
  o: {
    M: number;
    OHp: number;
    OWp: number;
    TMp: number;
    V: number;
    bias: boolean;
    relu: boolean;
    arg: boolean;
  },
): void {
  L.push(`  let pc = xt0 * 2u;`);
  L.push(`  let prow = (oh0 / 2u) * ${u32(o.OWp)} + pc;`);
  for (let i = 0; i < o.TMp; i++) {
    L.push(`  if (m0 + ${u32(i)} < ${u32(o.M)}) {`);
    L.push(`    let ob = (bz * ${u32(o.M)} + m0 + ${u32(i)}) * ${u32(o.OHp * o.OWp)} + prow;`);
    if (o.bias) L.push(`    let bv = bias[m0 + ${u32(i)}];`);
    for (let h = 0; h < 2; h++) {
      const taps = [
        `c${i}_${2 * h}`,
        `c${i}_${2 * h + 1}`,
        `c${i}_${4 + 2 * h}`,
        `c${i}_${5 + 2 * h}`,
      ]
        .map((c) => {
          const v = o.bias ? `${c} + bv` : c;
          return o.relu ? `max(${v}, 0.0)` : v;
        });
      L.push(`    var b${h} = ${taps[0]};`);
      L.push(`    var w${h} = 0;`);
      for (let t = 1; t < 4; t++) {
        L.push(`    let v${h}_${t} = ${taps[t]};`);
        L.push(
          `    if (v${h}_${t} > b${h} || (v${h}_${t} != v${h}_${t} && b${h} == b${h})) { b${h} = v${h}_${t}; w${h} = ${t}; }`,
        );
      }
    }
    if (o.V === 2) {
      L.push(`    if (pc < ${u32(o.OWp)}) {`);
      L.push(`      Y[ob / 2u] = vec2<f32>(b0, b1);`);
      if (o.arg) L.push(`      AM[ob / 2u] = vec2<i32>(w0, w1);`);
      L.push(`    }`);
    } else {
      for (let h = 0; h < 2; h++) {
        L.push(`    if (pc + ${u32(h)} < ${u32(o.OWp)}) {`);
        L.push(`      Y[ob + ${u32(h)}] = b${h};`);
        if (o.arg) L.push(`      AM[ob + ${u32(h)}] = w${h};`);
        L.push(`    }`);
      }
    }
    L.push(`  }`);
  }
}
