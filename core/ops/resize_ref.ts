/**
 * Plain TypeScript (float64) reference of 2-D resizing (ONNX `Resize` on the spatial axes
 * of NCHW, PyTorch's `interpolate` in nearest and bilinear mode), and the coordinate rules
 * the GPU kernel shares with it.
 *
 * An output index o along an axis maps to a source coordinate x (ONNX's
 * `coordinate_transformation_mode`, with `scale` the output/input factor):
 *
 * - `half_pixel`: x = (o + ½)/scale − ½ (PyTorch's align_corners=False);
 * - `pytorch_half_pixel`: the same, but x = 0 when the output has length 1;
 * - `align_corners`: x = o·(in − 1)/(out − 1) (0 when the output has length 1);
 * - `asymmetric`: x = o/scale;
 * - `tf_half_pixel_for_nn`: x = (o + ½)/scale.
 *
 * Linear mode mixes the two inputs around x, ⌊x⌋ and ⌊x⌋ + 1, with weights 1 − f and f
 * (f = x − ⌊x⌋); nearest mode takes x rounded by `nearest_mode`. Indices outside the input
 * take the edge value (ONNX's reference pads by repeating the edge; PyTorch clamps).
 *
 * @module
 */

/** How output coordinates map to input coordinates (ONNX's names). */
export type CoordinateMode =
  | "half_pixel"
  | "pytorch_half_pixel"
  | "align_corners"
  | "asymmetric"
  | "tf_half_pixel_for_nn";

/** How nearest mode rounds the source coordinate (ONNX's names). */
export type NearestMode = "round_prefer_floor" | "round_prefer_ceil" | "floor" | "ceil";

/** Options of a 2-D resize. */
export interface ResizeOptions {
  /** Output [height, width]. */
  size: readonly [number, number];
  /** "linear" (bilinear, the default) or "nearest". */
  mode?: "linear" | "nearest";
  /** Coordinate transformation (default "half_pixel"). */
  coordinate?: CoordinateMode;
  /** Rounding of nearest mode (default "round_prefer_floor", ONNX's default). */
  nearest?: NearestMode;
  /** Scale factors [h, w] of the coordinate rule (default output size / input size). */
  scales?: readonly [number, number];
}

/** The source coordinate of output index `o` along an axis of `inLen` → `outLen`. */
export function sourceCoordinate(
  o: number,
  inLen: number,
  outLen: number,
  scale: number,
  mode: CoordinateMode,
): number {
  switch (mode) {
    case "half_pixel":
      return (o + 0.5) / scale - 0.5;
    case "pytorch_half_pixel":
      return outLen > 1 ? (o + 0.5) / scale - 0.5 : 0;
    case "align_corners":
      return outLen === 1 ? 0 : (o * (inLen - 1)) / (outLen - 1);
    case "asymmetric":
      return o / scale;
    case "tf_half_pixel_for_nn":
      return (o + 0.5) / scale;
  }
}

/** `x` rounded as nearest mode `mode` says. */
export function roundNearest(x: number, mode: NearestMode): number {
  switch (mode) {
    case "floor":
      return Math.floor(x);
    case "ceil":
      return Math.ceil(x);
    case "round_prefer_floor":
      return x - Math.floor(x) === 0.5 ? Math.floor(x) : Math.round(x);
    case "round_prefer_ceil":
      return x - Math.floor(x) === 0.5 ? Math.ceil(x) : Math.round(x);
  }
}

/**
 * The taps of one axis: output index o reads inputs `i0[o]` (weight 1 − `f[o]`) and
 * `i1[o]` (weight `f[o]`), both clamped into the input. Nearest mode gives i1 = i0, f = 0.
 *
 * @example
 * const t = axisTaps(4, 7, 7 / 4, { size: [7, 7], coordinate: "align_corners" });
 */
export function axisTaps(
  inLen: number,
  outLen: number,
  scale: number,
  opts: Omit<ResizeOptions, "size" | "scales">,
): { i0: Int32Array; i1: Int32Array; f: Float64Array } {
  const mode = opts.coordinate ?? "half_pixel";
  const clamp = (i: number) => Math.min(inLen - 1, Math.max(0, i));
  const i0 = new Int32Array(outLen), i1 = new Int32Array(outLen), f = new Float64Array(outLen);
  for (let o = 0; o < outLen; o++) {
    const x = sourceCoordinate(o, inLen, outLen, scale, mode);
    if ((opts.mode ?? "linear") === "nearest") {
      i0[o] = i1[o] = clamp(roundNearest(x, opts.nearest ?? "round_prefer_floor"));
      continue;
    }
    const lo = Math.floor(x);
    i0[o] = clamp(lo);
    i1[o] = clamp(lo + 1);
    f[o] = x - lo;
  }
  return { i0, i1, f };
}

/** The scale factors of a resize of `[H, W]` (given, or output / input). */
export function resizeScales(H: number, W: number, opts: ResizeOptions): [number, number] {
  return opts.scales ? [opts.scales[0], opts.scales[1]] : [opts.size[0] / H, opts.size[1] / W];
}

/**
 * Resizes NCHW `x` (flat, float64) of `shape` to `opts.size`, straight from the rules in
 * the module comment.
 *
 * @example
 * const y = resizeRef(x, [1, 1, 2, 2], { size: [4, 4], coordinate: "align_corners" });
 */
export function resizeRef(
  x: ArrayLike<number>,
  shape: readonly number[],
  opts: ResizeOptions,
): Float64Array {
  const [N, C, H, W] = shape;
  const [OH, OW] = opts.size;
  const [sh, sw] = resizeScales(H, W, opts);
  const th = axisTaps(H, OH, sh, opts), tw = axisTaps(W, OW, sw, opts);
  const y = new Float64Array(N * C * OH * OW);
  // f = 0 reads one input only (so an infinite neighbour with weight 0 does not give NaN).
  const mix = (a: number, b: () => number, f: number) => (f ? (1 - f) * a + f * b() : a);
  for (let p = 0; p < N * C; p++) {
    const at = (h: number, w: number) => x[(p * H + h) * W + w];
    for (let oh = 0; oh < OH; oh++) {
      for (let ow = 0; ow < OW; ow++) {
        const row = (h: number) => mix(at(h, tw.i0[ow]), () => at(h, tw.i1[ow]), tw.f[ow]);
        y[(p * OH + oh) * OW + ow] = mix(row(th.i0[oh]), () => row(th.i1[oh]), th.f[oh]);
      }
    }
  }
  return y;
}
