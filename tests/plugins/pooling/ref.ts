/**
 * Plain float64 references of the pooling ops, written independently of the kernels'
 * geometry code (PyTorch's output-size rule; ONNX's four pads), for the pooling tests.
 */

/** Window options as the references take them (all explicit). */
export interface RefWindow {
  k: [number, number];
  s: [number, number];
  d?: [number, number];
  /** top, left, bottom, right */
  p?: [number, number, number, number];
  ceil?: boolean;
}

/** Output length along one axis: PyTorch's formula, with its ceil-mode rule. */
export function outLen(
  n: number,
  k: number,
  s: number,
  d: number,
  p0: number,
  p1: number,
  ceil: boolean,
) {
  const eff = d * (k - 1) + 1;
  let o = (ceil ? Math.ceil((n + p0 + p1 - eff) / s) : Math.floor((n + p0 + p1 - eff) / s)) + 1;
  if (ceil && (o - 1) * s >= n + p0) o--;
  return o;
}

/**
 * Visits every window of a pool over an NCHW input of `shape`: `visit(o, idx, padded)`
 * with `o` the window's flat output index, `idx` the flat input indices of its taps inside
 * the input (row by row) and `padded` how many of its taps lie inside the padded input.
 * Returns the output shape.
 */
function eachWindowRef(
  [N, C, H, W]: number[],
  w: RefWindow,
  visit: (o: number, idx: number[], padded: number) => void,
): number[] {
  const [kh, kw] = w.k, [sh, sw] = w.s, [dh, dw] = w.d ?? [1, 1];
  const [pt, pl, pb, pr] = w.p ?? [0, 0, 0, 0];
  const OH = outLen(H, kh, sh, dh, pt, pb, !!w.ceil);
  const OW = outLen(W, kw, sw, dw, pl, pr, !!w.ceil);
  for (let pc = 0; pc < N * C; pc++) {
    for (let oh = 0; oh < OH; oh++) {
      for (let ow = 0; ow < OW; ow++) {
        const idx: number[] = [];
        let padded = 0;
        for (let a = 0; a < kh; a++) {
          for (let b = 0; b < kw; b++) {
            const ih = oh * sh - pt + a * dh, iw = ow * sw - pl + b * dw;
            if (ih >= -pt && ih < H + pb && iw >= -pl && iw < W + pr) padded++;
            if (ih >= 0 && ih < H && iw >= 0 && iw < W) idx.push((pc * H + ih) * W + iw);
          }
        }
        visit((pc * OH + oh) * OW + ow, idx, padded);
      }
    }
  }
  return [N, C, OH, OW];
}

/**
 * A windowed pool: `reduce(values, padInsideCount, window)` per window, where `values` are
 * the taps inside the input and `padInsideCount` counts the taps inside the padded input.
 */
export function windowRef(
  x: Float64Array,
  shape: number[],
  w: RefWindow,
  reduce: (vals: number[], padded: number) => number,
): { y: Float64Array; shape: number[] } {
  const out: number[] = [];
  const s = eachWindowRef(shape, w, (o, idx, padded) => {
    out[o] = reduce(idx.map((i) => x[i]), padded);
  });
  return { y: Float64Array.from(out), shape: s };
}

/**
 * The input gradient of a windowed pool given the output gradient `g`: `taps(vals, padded,
 * go)` gives the gradient of each tap of a window inside the input (in `windowRef`'s
 * order), and the gradients of windows sharing an input add up.
 */
export function windowGradRef(
  x: Float64Array,
  shape: number[],
  w: RefWindow,
  g: Float64Array,
  taps: (vals: number[], padded: number, go: number) => number[],
): Float64Array {
  const dx = new Float64Array(x.length);
  eachWindowRef(shape, w, (o, idx, padded) => {
    const d = taps(idx.map((i) => x[i]), padded, g[o]);
    idx.forEach((i, k) => (dx[i] += d[k]));
  });
  return dx;
}

/** Max pooling. */
export const maxRef = (x: Float64Array, s: number[], w: RefWindow) =>
  windowRef(x, s, w, (v) => Math.max(...v));

/** Average pooling, the divisor counting padding taps or not. */
export const avgRef = (x: Float64Array, s: number[], w: RefWindow, includePad: boolean) =>
  windowRef(
    x,
    s,
    w,
    (v, padded) => v.reduce((a, b) => a + b, 0) / (includePad ? padded : v.length),
  );

/** Lp pooling: (Σ|x|^p)^(1/p). */
export const lpRef = (x: Float64Array, s: number[], w: RefWindow, p: number) =>
  windowRef(x, s, w, (v) => v.reduce((a, b) => a + Math.abs(b) ** p, 0) ** (1 / p));

/** Adaptive average pooling with PyTorch's windows. */
export function adaptiveRef(x: Float64Array, [N, C, H, W]: number[], [OH, OW]: number[]) {
  const y = new Float64Array(N * C * OH * OW);
  for (let pc = 0; pc < N * C; pc++) {
    for (let oh = 0; oh < OH; oh++) {
      const h0 = Math.floor((oh * H) / OH), h1 = Math.ceil(((oh + 1) * H) / OH);
      for (let ow = 0; ow < OW; ow++) {
        const w0 = Math.floor((ow * W) / OW), w1 = Math.ceil(((ow + 1) * W) / OW);
        let s = 0;
        for (let i = h0; i < h1; i++) for (let j = w0; j < w1; j++) s += x[(pc * H + i) * W + j];
        y[(pc * OH + oh) * OW + ow] = s / ((h1 - h0) * (w1 - w0));
      }
    }
  }
  return y;
}
