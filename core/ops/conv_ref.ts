/**
 * Plain TypeScript (float64) reference of 2-D convolution, and the geometry every conv
 * kernel shares: kernel size, stride, padding (numbers, pairs, four sides, "same",
 * "same_lower", "valid"), dilation, groups, and the output size
 * floor((W + pad_begin + pad_end − k_eff) / s) + 1 with k_eff = d·(k − 1) + 1.
 *
 * @module
 */

/** One number for both spatial axes, or [height, width]. */
export type Pair = number | readonly [number, number];

/**
 * Padding: one number for every side, [height, width] (symmetric), four sides
 * [top, left, bottom, right] (ONNX `pads` order), or automatic: "valid" (none), "same"
 * (output = ceil(input / stride); an odd total puts the extra row/column at the end, as
 * ONNX's SAME_UPPER and PyTorch's "same" do), "same_lower" (the extra one at the start).
 */
export type Padding =
  | number
  | readonly [number, number]
  | readonly [number, number, number, number]
  | "same"
  | "same_lower"
  | "valid";

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

/** Every size a conv kernel needs, resolved from shapes and options. */
export interface ConvGeometry {
  /** Batch, input channels, input height and width. */
  N: number;
  C: number;
  H: number;
  W: number;
  /** Output channels and kernel height/width. */
  Cout: number;
  KH: number;
  KW: number;
  /** Strides, dilations. */
  SH: number;
  SW: number;
  DH: number;
  DW: number;
  /** Padding at the top, left, bottom, right. */
  PT: number;
  PL: number;
  PB: number;
  PR: number;
  /** Groups, input channels per group, output channels per group. */
  G: number;
  Cg: number;
  CoutG: number;
  /** Output height and width. */
  OH: number;
  OW: number;
}

function pair(v: Pair | undefined, dflt: number, what: string): [number, number] {
  const p: [number, number] = v === undefined
    ? [dflt, dflt]
    : typeof v === "number"
    ? [v, v]
    : [v[0], v[1]];
  if (!p.every((d) => Number.isInteger(d) && d >= 1)) {
    throw new Error(`conv2d: ${what} must be positive integers, got ${JSON.stringify(v)}`);
  }
  return p;
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
  const [SH, SW] = pair(opts.stride, 1, "stride");
  const [DH, DW] = pair(opts.dilation, 1, "dilation");
  const ekh = DH * (KH - 1) + 1, ekw = DW * (KW - 1) + 1;
  let PT: number, PL: number, PB: number, PR: number;
  const p = opts.padding ?? 0;
  if (p === "valid") [PT, PL, PB, PR] = [0, 0, 0, 0];
  else if (p === "same" || p === "same_lower") {
    const tot = (size: number, s: number, k: number) =>
      Math.max(0, (Math.ceil(size / s) - 1) * s + k - size);
    const th = tot(H, SH, ekh), tw = tot(W, SW, ekw);
    const lo = (t: number) => (p === "same" ? Math.floor(t / 2) : Math.ceil(t / 2));
    [PT, PL, PB, PR] = [lo(th), lo(tw), th - lo(th), tw - lo(tw)];
  } else if (typeof p === "number") [PT, PL, PB, PR] = [p, p, p, p];
  else if (p.length === 2) [PT, PL, PB, PR] = [p[0], p[1], p[0], p[1]];
  else if (p.length === 4) [PT, PL, PB, PR] = [p[0], p[1], p[2], p[3]];
  else throw new Error(`conv2d: bad padding ${JSON.stringify(p)}`);
  if (![PT, PL, PB, PR].every((v) => Number.isInteger(v) && v >= 0)) {
    throw new Error(`conv2d: padding must be non-negative integers, got ${JSON.stringify(p)}`);
  }
  const OH = Math.floor((H + PT + PB - ekh) / SH) + 1;
  const OW = Math.floor((W + PL + PR - ekw) / SW) + 1;
  if (OH < 1 || OW < 1) {
    throw new Error(
      `conv2d: kernel ${KH}×${KW} (dilation ${DH}×${DW}) does not fit input ${H}×${W} ` +
        `with padding [${PT},${PL},${PB},${PR}]`,
    );
  }
  return {
    N,
    C,
    H,
    W,
    Cout,
    KH,
    KW,
    SH,
    SW,
    DH,
    DW,
    PT,
    PL,
    PB,
    PR,
    G,
    Cg,
    CoutG: Cout / G,
    OH,
    OW,
  };
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
