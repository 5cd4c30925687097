/**
 * The geometry of 2-D sliding windows, shared by convolution (`conv_ref.ts`) and the pooling
 * plugins: kernel size, stride, dilation, padding (numbers, pairs, four sides, "same",
 * "same_upper", "same_lower", "valid"), ceil mode, and the output size
 * floor((W + pad_begin + pad_end − k_eff) / s) + 1 with k_eff = d·(k − 1) + 1.
 * Plain TypeScript (no GPU): one rule for every windowed op.
 *
 * @module
 */

/** One number for both spatial axes, or [height, width]. */
export type Pair = number | readonly [number, number];

/**
 * Padding: one number for every side, [height, width] (symmetric), four sides
 * [top, left, bottom, right] (ONNX `pads` order), or automatic: "valid" (none), "same"
 * or "same_upper" (output = ceil(input / stride); an odd total puts the extra row/column at
 * the end, as ONNX's SAME_UPPER and PyTorch's "same" do), "same_lower" (the extra one at
 * the start).
 */
export type Padding =
  | number
  | readonly [number, number]
  | readonly [number, number, number, number]
  | "same"
  | "same_upper"
  | "same_lower"
  | "valid";

/** A window's hyper-parameters, as ops take them. */
export interface WindowSpec {
  /** Window (kernel) size. */
  kernel: Pair;
  /** Step between windows (default 1). */
  stride?: Pair;
  /** Spacing between window taps (default 1). */
  dilation?: Pair;
  /** Implicit padding (default 0). */
  padding?: Padding;
  /** Round the output size up instead of down (explicit padding only; default false). */
  ceilMode?: boolean;
}

/** A window resolved for an H×W input: every size a windowed kernel needs. */
export interface Window2d {
  /** Input height and width. */
  H: number;
  W: number;
  /** Output height and width. */
  OH: number;
  OW: number;
  /** Window height and width (taps). */
  KH: number;
  KW: number;
  /** Strides. */
  SH: number;
  SW: number;
  /** Dilations. */
  DH: number;
  DW: number;
  /** Padding at the top, left, bottom, right. */
  PT: number;
  PL: number;
  PB: number;
  PR: number;
}

/** A pair of positive integers from `v` (`dflt` when absent); `op` and `what` label errors. */
export function pairOf(
  v: Pair | undefined,
  dflt: number,
  op: string,
  what: string,
): [number, number] {
  const p: [number, number] = v === undefined
    ? [dflt, dflt]
    : typeof v === "number"
    ? [v, v]
    : [v[0], v[1]];
  if (!p.every((d) => Number.isInteger(d) && d >= 1)) {
    throw new Error(`${op}: ${what} must be positive integers, got ${JSON.stringify(v)}`);
  }
  return p;
}

/** [begin, end] padding of one axis for the automatic modes. */
function autoPad(n: number, k: number, s: number, d: number, lower: boolean): [number, number] {
  const total = Math.max(0, (Math.ceil(n / s) - 1) * s + (k - 1) * d + 1 - n);
  const small = Math.floor(total / 2);
  return lower ? [total - small, small] : [small, total - small];
}

/** Output length along one axis (with PyTorch's ceil-mode rule), or 0 when none fits. */
export function outLength(
  n: number,
  k: number,
  s: number,
  d: number,
  p0: number,
  p1: number,
  ceil = false,
): number {
  const span = n + p0 + p1 - d * (k - 1) - 1;
  if (span < 0) return 0;
  let o = (ceil ? Math.ceil(span / s) : Math.floor(span / s)) + 1;
  // PyTorch's rule: the last window must start inside the input or the leading pad.
  if (ceil && (o - 1) * s >= n + p0) o--;
  return o;
}

/** The four pads [top, left, bottom, right] of `padding` for an H×W input. */
export function padsOf(
  op: string,
  H: number,
  W: number,
  [KH, KW]: [number, number],
  [SH, SW]: [number, number],
  [DH, DW]: [number, number],
  padding: Padding = 0,
): [number, number, number, number] {
  let p: [number, number, number, number];
  if (typeof padding === "string") {
    if (padding === "valid") p = [0, 0, 0, 0];
    else if (padding === "same" || padding === "same_upper" || padding === "same_lower") {
      const lower = padding === "same_lower";
      const [pt, pb] = autoPad(H, KH, SH, DH, lower), [pl, pr] = autoPad(W, KW, SW, DW, lower);
      p = [pt, pl, pb, pr];
    } else {
      throw new Error(
        `${op}: unknown padding "${padding}" (valid, same, same_upper, same_lower)`,
      );
    }
  } else if (typeof padding === "number") p = [padding, padding, padding, padding];
  else if (Array.isArray(padding) && padding.length === 2) {
    p = [padding[0], padding[1], padding[0], padding[1]];
  } else if (Array.isArray(padding) && padding.length === 4) {
    p = [padding[0], padding[1], padding[2], padding[3]];
  } else {
    throw new Error(`${op}: padding needs 1, 2 or 4 numbers, got ${JSON.stringify(padding)}`);
  }
  if (!p.every((v) => Number.isInteger(v) && v >= 0)) {
    throw new Error(`${op}: padding must be non-negative integers, got ${JSON.stringify(padding)}`);
  }
  return p;
}

/**
 * Resolves `spec` for an H×W input (stride defaulting to `defaultStride`: 1 for
 * convolution, the kernel for PyTorch's pools). Throws a clear error when the window does
 * not fit.
 */
export function windowGeometry(
  op: string,
  H: number,
  W: number,
  spec: WindowSpec,
  defaultStride: Pair = 1,
): Window2d {
  const [KH, KW] = pairOf(spec.kernel, 1, op, "kernel");
  const [SH, SW] = pairOf(spec.stride ?? defaultStride, 1, op, "stride");
  const [DH, DW] = pairOf(spec.dilation, 1, op, "dilation");
  const [PT, PL, PB, PR] = padsOf(op, H, W, [KH, KW], [SH, SW], [DH, DW], spec.padding);
  const ceil = typeof spec.padding !== "string" && !!spec.ceilMode;
  const OH = outLength(H, KH, SH, DH, PT, PB, ceil);
  const OW = outLength(W, KW, SW, DW, PL, PR, ceil);
  if (OH < 1 || OW < 1) {
    throw new Error(
      `${op}: a ${KH}×${KW} window (dilation ${DH}×${DW}) does not fit input ${H}×${W} ` +
        `with padding [${PT}, ${PL}, ${PB}, ${PR}]`,
    );
  }
  return { H, W, OH, OW, KH, KW, SH, SW, DH, DW, PT, PL, PB, PR };
}

/** Whether windows never share an input element (stride ≥ the dilated window span). */
export function windowsDisjoint(w: Window2d): boolean {
  return w.SH >= w.DH * (w.KH - 1) + 1 && w.SW >= w.DW * (w.KW - 1) + 1;
}

/** Whether every input element lies in some window (with `windowsDisjoint`: exactly one). */
export function windowsCover(w: Window2d): boolean {
  // Contiguous taps, no gap between consecutive windows, and the last window reaching the
  // end (the first starts at −pad ≤ 0).
  const axis = (n: number, k: number, s: number, d: number, p: number, o: number) =>
    (k === 1 || d === 1) && (o === 1 || s <= d * (k - 1) + 1) &&
    (o - 1) * s - p + d * (k - 1) >= n - 1;
  return axis(w.H, w.KH, w.SH, w.DH, w.PT, w.OH) && axis(w.W, w.KW, w.SW, w.DW, w.PL, w.OW);
}
