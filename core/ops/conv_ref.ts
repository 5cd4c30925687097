/**
 * Plain TypeScript (float64) reference of 2-D convolution, and the geometry every conv
 * kernel shares: the window of `window.ts` (kernel size, stride, padding, dilation and the
 * output size, one rule with the pooling ops) plus channels and groups.
 *
 * @module
 */

import { type Padding, type Pair, type Window2d, windowGeometry } from "./window.ts";

export type { Padding, Pair } from "./window.ts";

/** Hyper-parameters of a convolution. */
export interface ConvOptions {
  /** Stride (default 1). */
  stride?: Pair;
  /** Padding (default 0). */
  padding?: Padding;
  /** Dilation (default 1). */
  dilation?: Pair;
  /** Groups: input and output channels are split into this many independent groups (default 1). */
  groups?: number;
}

/** Every size a conv kernel needs, resolved from shapes and options: the window plus channels. */
export interface ConvGeometry extends Window2d {
  /** Batch and input channels. */
  N: number;
  C: number;
  /** Output channels. */
  Cout: number;
  /** Groups, input channels per group, output channels per group. */
  G: number;
  Cg: number;
  CoutG: number;
}

/** Resolves shapes x [N, C, H, W] and w [Cout, C/groups, KH, KW] with `opts` into a geometry. */
export function convGeometry(
  xShape: readonly number[],
  wShape: readonly number[],
  opts: ConvOptions = {},
): ConvGeometry {
  if (xShape.length !== 4) throw new Error(`conv2d: input must be [N, C, H, W], got [${xShape}]`);
  if (wShape.length !== 4) {
    throw new Error(`conv2d: weight must be [out, in/groups, kh, kw], got [${wShape}]`);
  }
  const [N, C, H, W] = xShape;
  const [Cout, Cg, KH, KW] = wShape;
  const G = opts.groups ?? 1;
  if (!Number.isInteger(G) || G < 1 || C % G !== 0 || Cout % G !== 0) {
    throw new Error(`conv2d: groups ${G} must divide input channels ${C} and output ${Cout}`);
  }
  if (Cg !== C / G) {
    throw new Error(
      `conv2d: weight [${wShape}] expects ${Cg * G} input channels with groups ${G}, ` +
        `input [${xShape}] has ${C}`,
    );
  }
  const win = windowGeometry("conv2d", H, W, {
    kernel: [KH, KW],
    stride: opts.stride,
    dilation: opts.dilation,
    padding: opts.padding,
  });
  return { N, C, Cout, G, Cg, CoutG: Cout / G, ...win };
}

/** The output shape [N, Cout, OH, OW] of a convolution. */
export function convOutputShape(
  xShape: readonly number[],
  wShape: readonly number[],
  opts: ConvOptions = {},
): number[] {
  const g = convGeometry(xShape, wShape, opts);
  return [g.N, g.Cout, g.OH, g.OW];
}

/**
 * Float64 reference: y = conv(x, w) + bias, with bias either [Cout] (tied) or
 * [Cout, OH, OW] (untied), or absent.
 */
export function conv2dReference(
  x: ArrayLike<number>,
  w: ArrayLike<number>,
  bias: ArrayLike<number> | null,
  g: ConvGeometry,
): Float64Array {
  const { N, C, H, W, Cout, KH, KW, SH, SW, DH, DW, PT, PL, Cg, CoutG, OH, OW } = g;
  const y = new Float64Array(N * Cout * OH * OW);
  const untied = bias !== null && bias.length !== Cout;
  for (let n = 0; n < N; n++) {
    for (let co = 0; co < Cout; co++) {
      const grp = Math.floor(co / CoutG);
      for (let oh = 0; oh < OH; oh++) {
        for (let ow = 0; ow < OW; ow++) {
          let acc = bias ? (untied ? bias[(co * OH + oh) * OW + ow] : bias[co]) : 0;
          for (let cl = 0; cl < Cg; cl++) {
            const ci = grp * Cg + cl;
            for (let ky = 0; ky < KH; ky++) {
              const ih = oh * SH - PT + ky * DH;
              if (ih < 0 || ih >= H) continue;
              for (let kx = 0; kx < KW; kx++) {
                const iw = ow * SW - PL + kx * DW;
                if (iw < 0 || iw >= W) continue;
                acc += x[((n * C + ci) * H + ih) * W + iw] *
                  w[((co * Cg + cl) * KH + ky) * KW + kx];
              }
            }
          }
          y[((n * Cout + co) * OH + oh) * OW + ow] = acc;
        }
      }
    }
  }
  return y;
}
