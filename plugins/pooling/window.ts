/**
 * Shared geometry of the 2-D pooling ops: option parsing (PyTorch-style numbers or pairs,
 * ONNX-style four pads or "same" auto padding), output sizes with floor or ceil mode, and
 * dispatching a kernel over NCHW planes in chunks that each fit one storage binding, and
 * the base of the windowed pool layers.
 *
 * @module
 */
import { gpu } from "../../core/gpu.ts";
import { Module } from "../../core/nn/module.ts";
import { run } from "../../core/ops/kernel.ts";
import type { Tensor } from "../../core/tensor.ts";
import type { Padding, Pair } from "../../core/ops/conv_ref.ts";

export type { Pair };

/**
 * A pooling window's padding: a convolution's (a number for all sides, `[h, w]`, ONNX's
 * `[top, left, bottom, right]`, `"valid"`, `"same"`, `"same_lower"`) or ONNX's
 * `"same_upper"`, which is `"same"` (output = ⌈input / stride⌉, an odd extra pad at the end).
 */
export type PoolPadding = Padding | "same_upper";

/** Options shared by the windowed 2-D pools. */
export interface WindowOptions {
  /** Window size. */
  kernel: Pair;
  /** Step between windows (default: the kernel size, as in PyTorch). */
  stride?: Pair;
  /** Implicit padding (default 0). */
  padding?: PoolPadding;
  /** Spacing between window taps (default 1). */
  dilation?: Pair;
  /** Round the output size up instead of down (default false). */
  ceilMode?: boolean;
}

/** Resolved geometry of a 2-D pool over an NCHW input. */
export interface Geometry {
  N: number;
  C: number;
  H: number;
  W: number;
  OH: number;
  OW: number;
  kh: number;
  kw: number;
  sh: number;
  sw: number;
  dh: number;
  dw: number;
  /** Pads: top, left, bottom, right. */
  pt: number;
  pl: number;
  pb: number;
  pr: number;
}

function pair(v: Pair, what: string): [number, number] {
  const p: [number, number] = typeof v === "number" ? [v, v] : [v[0], v[1]];
  if (!p.every((x) => Number.isInteger(x) && x >= 1)) {
    throw new Error(`pool: ${what} must be positive integers, got ${JSON.stringify(v)}`);
  }
  return p;
}

/** Throws unless `x` is 4-D (NCHW). */
export function checkNCHW(op: string, x: Tensor): void {
  if (x.shape.length !== 4) {
    throw new Error(`${op}: expected an NCHW (4-D) input, got [${x.shape}]`);
  }
}

function outSize(
  n: number,
  k: number,
  s: number,
  d: number,
  p0: number,
  p1: number,
  ceil: boolean,
) {
  const span = n + p0 + p1 - d * (k - 1) - 1;
  if (span < 0) return 0;
  let o = (ceil ? Math.ceil(span / s) : Math.floor(span / s)) + 1;
  // PyTorch's rule: the last window must start inside the input or the leading pad.
  if (ceil && (o - 1) * s >= n + p0) o--;
  return o;
}

/** Resolves `opts` for an input of `shape` ([N, C, H, W]). */
export function geometry(op: string, shape: readonly number[], opts: WindowOptions): Geometry {
  const [N, C, H, W] = shape;
  const [kh, kw] = pair(opts.kernel, "kernel");
  const [sh, sw] = pair(opts.stride ?? opts.kernel, "stride");
  const [dh, dw] = pair(opts.dilation ?? 1, "dilation");
  const pad = opts.padding ?? 0;
  let pt: number, pl: number, pb: number, pr: number;
  if (typeof pad === "string") {
    if (pad === "valid") {
      pt =
        pl =
        pb =
        pr =
          0;
    } else if (pad === "same" || pad === "same_upper" || pad === "same_lower") {
      const lower = pad === "same_lower";
      const auto = (n: number, k: number, s: number, d: number) => {
        const o = Math.ceil(n / s);
        const total = Math.max(0, (o - 1) * s + (k - 1) * d + 1 - n);
        const small = Math.floor(total / 2);
        return lower ? [total - small, small] : [small, total - small];
      };
      [pt, pb] = auto(H, kh, sh, dh);
      [pl, pr] = auto(W, kw, sw, dw);
    } else {
      throw new Error(`${op}: unknown padding "${pad}" (valid, same, same_upper, same_lower)`);
    }
  } else if (typeof pad === "number") {
    pt =
      pl =
      pb =
      pr =
        pad;
  } else if (pad.length === 2) {
    [pt, pl] = pad;
    [pb, pr] = pad;
  } else if (pad.length === 4) {
    [pt, pl, pb, pr] = pad;
  } else {
    throw new Error(`${op}: padding needs 1, 2 or 4 numbers, got ${JSON.stringify(pad)}`);
  }
  if (![pt, pl, pb, pr].every((p) => Number.isInteger(p) && p >= 0)) {
    throw new Error(`${op}: padding must be non-negative integers, got ${JSON.stringify(pad)}`);
  }
  const ceil = typeof pad !== "string" && (opts.ceilMode ?? false);
  const OH = outSize(H, kh, sh, dh, pt, pb, ceil);
  const OW = outSize(W, kw, sw, dw, pl, pr, ceil);
  if (OH < 1 || OW < 1) {
    throw new Error(
      `${op}: a ${kh}×${kw} window (dilation ${dh}×${dw}) does not fit the ${H}×${W} input ` +
        `with padding [${pt}, ${pl}, ${pb}, ${pr}]`,
    );
  }
  return { N, C, H, W, OH, OW, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr };
}

const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));

/** One tensor bound by a per-plane kernel, with its element count per plane. */
export interface PlaneBinding {
  t: Tensor;
  perPlane: number;
}

/**
 * Dispatches a per-plane kernel over `planes` NCHW planes. When the bound tensors exceed
 * one storage binding the planes are processed in chunks (each binding a window starting
 * at an aligned offset); `code(planes)` makes the WGSL for a chunk of that many planes,
 * indexing the bindings from 0, and `invocations(planes)` gives its 1-D size.
 */
export function runPlanes(
  op: string,
  planes: number,
  bindings: PlaneBinding[],
  code: (planes: number) => string,
  workgroups: (planes: number) => [number, number],
): void {
  const g = gpu();
  const largest = Math.max(...bindings.map((b) => b.perPlane * 4));
  if (largest * planes <= g.maxBindingBytes) {
    run(code(planes), bindings.map((b) => b.t), workgroups(planes));
    return;
  }
  // Chunks of `unit` planes keep every binding's offset a multiple of the alignment.
  let unit = 1;
  for (const b of bindings) {
    const step = g.offsetAlign / gcd(b.perPlane * 4, g.offsetAlign);
    unit = (unit * step) / gcd(unit, step);
  }
  const chunk = Math.floor(g.maxBindingBytes / largest / unit) * unit;
  if (chunk < 1) {
    throw new Error(
      `${op}: ${unit} planes of ${largest} bytes exceed one storage binding ` +
        `(${g.maxBindingBytes} bytes); this pool cannot split them`,
    );
  }
  for (let p0 = 0; p0 < planes; p0 += chunk) {
    const n = Math.min(chunk, planes - p0);
    run(
      code(n),
      bindings.map((b) => ({
        buffer: b.t.buffer,
        offset: p0 * b.perPlane * 4,
        size: Math.max(4, n * b.perPlane * 4),
      })),
      workgroups(n),
    );
  }
}

/**
 * WGSL for the forward scan of a windowed pool: with `i` the flat output index in a chunk,
 * declares `plane`, `oh`, `ow` (i32) and `xb` (the plane's first input), then runs `body`
 * for every tap (ky, kx) of the window that lies inside the input, `v` its value.
 */
export function scanWindow(q: Geometry, body: string): string {
  return `  let plane = i / ${q.OH * q.OW}u;
  let r = i % ${q.OH * q.OW}u;
  let oh = i32(r / ${q.OW}u);
  let ow = i32(r % ${q.OW}u);
  let xb = plane * ${q.H * q.W}u;
  for (var ky = 0; ky < ${q.kh}; ky++) {
    let ih = oh * ${q.sh} - ${q.pt} + ky * ${q.dh};
    if (ih < 0 || ih >= ${q.H}) { continue; }
    for (var kx = 0; kx < ${q.kw}; kx++) {
      let iw = ow * ${q.sw} - ${q.pl} + kx * ${q.dw};
      if (iw < 0 || iw >= ${q.W}) { continue; }
      let v = x[xb + u32(ih * ${q.W} + iw)];
      ${body}
    }
  }`;
}

/**
 * WGSL for the backward gather of a windowed pool: with `ih`, `iw` (i32) the input
 * coordinates and `ob` (u32) the plane's first output, runs `body` once for every window
 * (oh, ow) that covers the input through tap (ky, kx), with `o` the output's flat index.
 * It visits only the ⌈k·d / s⌉ candidate windows per axis (one when windows do not overlap).
 */
export function gatherWindows(q: Geometry, body: string): string {
  const axis = (c: string, i: string, k: number, s: number, d: number, p: number, O: number) => {
    const span = (k - 1) * d;
    return `let t${c} = ${i} + ${p};
  let ${c}0 = select(0, (t${c} - ${span} + ${s - 1}) / ${s}, t${c} > ${span});
  let ${c}1 = min(${O - 1}, t${c} / ${s});`;
  };
  const tap = (c: string, k: string, s: number, d: number) =>
    `let r${c} = t${c} - ${c} * ${s};${d > 1 ? ` if (r${c} % ${d} != 0) { continue; }` : ""}
    let ${k} = r${c} / ${d};`;
  return `  ${axis("oh", "ih", q.kh, q.sh, q.dh, q.pt, q.OH)}
  ${axis("ow", "iw", q.kw, q.sw, q.dw, q.pl, q.OW)}
  for (var oh = oh0; oh <= oh1; oh++) {
    ${tap("oh", "ky", q.sh, q.dh)}
    for (var ow = ow0; ow <= ow1; ow++) {
      ${tap("ow", "kx", q.sw, q.dw)}
      let o = ob + u32(oh * ${q.OW} + ow);
      ${body}
    }
  }`;
}

/**
 * A windowed pool layer: its options (validated when it is made, for any input size) and
 * the op it runs with them.
 *
 * @example
 * class MinPool2d extends WindowPool2d<WindowOptions> {
 *   constructor(options: WindowOptions) {
 *     super("MinPool2d", minPool2d, options);
 *   }
 * }
 */
export abstract class WindowPool2d<O extends WindowOptions> extends Module {
  /** A copy of the options the layer was made with, passed to its op on every call. */
  readonly options: O;
  /** `name` labels errors; `op` runs the pool; throws now if `options` are invalid. */
  protected constructor(
    name: string,
    private readonly op: (x: Tensor, options: O) => Tensor,
    options: O,
  ) {
    super();
    this.options = { ...options };
    geometry(name, [1, 1, 1 << 20, 1 << 20], this.options); // validate early
  }
  /** Runs the op on `x` [N, C, H, W] with `options`. */
  forward(x: Tensor): Tensor {
    return this.op(x, this.options);
  }
}
