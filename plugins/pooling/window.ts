/**
 * The windowed 2-D pools' common part: option parsing and output sizes through the one
 * window geometry of `core/ops/window.ts` (shared with convolution), dispatching a kernel
 * over NCHW planes in chunks that each fit one storage binding, the window-reduce kernel
 * generator that max, average and Lp pooling are made of (they differ only in their
 * reduction: init, accumulate, finish, and the backward rule), and the base of the layers.
 * Windows that tile each row exactly run through the vector kernels of `window_vector.ts`.
 * Where the adapter's storage loads are slow (`core/ops/texture_read.ts`) the scalar
 * kernels read their large inputs (forward x; backward g, and x and y where the reduction
 * uses them) through flat textures; the vector kernels and the argmax keep storage reads.
 *
 * @module
 */
import { record } from "../../core/autograd.ts";
import { type BufferWindow, gpu } from "../../core/gpu.ts";
import { Module } from "../../core/nn/module.ts";
import { grid, main1d, run } from "../../core/ops/kernel.ts";
import { runReading } from "../../core/ops/texture_read.ts";
import {
  type Padding,
  type Pair,
  type Window2d,
  windowGeometry,
  windowsCover,
  windowsDisjoint,
  type WindowSpec,
} from "../../core/ops/window.ts";
import { empty, type Tensor } from "../../core/tensor.ts";
import type { WindowReduction } from "./reduction.ts";
import { storageBindings, vectorForward, vectorPlan, vectorScatter } from "./window_vector.ts";

export type { WindowReduction };

export type { Pair };

/**
 * A pooling window's padding: a number for all sides, `[h, w]`, ONNX's
 * `[top, left, bottom, right]`, `"valid"`, `"same"` / `"same_upper"` (output =
 * ⌈input / stride⌉, an odd extra pad at the end) or `"same_lower"`.
 */
export type PoolPadding = Padding;

/**
 * Options shared by the windowed 2-D pools: `kernel`, `stride` (default: the kernel size,
 * as in PyTorch), `padding` (default 0), `dilation` (default 1), `ceilMode` (default false).
 */
export type WindowOptions = WindowSpec;

/** Resolved geometry of a 2-D pool over an NCHW input: the window plus batch and channels. */
export interface Geometry extends Window2d {
  /** Batch and channels (planes = N·C). */
  N: number;
  C: number;
}

/** Throws unless `x` is 4-D (NCHW). */
export function checkNCHW(op: string, x: Tensor): void {
  if (x.shape.length !== 4) {
    throw new Error(`${op}: expected an NCHW (4-D) input, got [${x.shape}]`);
  }
}

/** Resolves `opts` for an input of `shape` ([N, C, H, W]); the stride defaults to the kernel. */
export function geometry(op: string, shape: readonly number[], opts: WindowOptions): Geometry {
  const [N, C, H, W] = shape;
  return { N, C, ...windowGeometry(op, H, W, opts, opts.kernel) };
}

const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));

/** One tensor bound by a per-plane kernel, with its element count per plane. */
export interface PlaneBinding {
  t: Tensor;
  perPlane: number;
  /**
   * The kernel's name of this binding when it is a read-only `array<f32>` or
   * `array<vec4<f32>>` the kernel may read through a flat texture (`runReading`).
   */
  read?: string;
}

/**
 * Dispatches a per-plane kernel over `planes` NCHW planes. When the bound tensors exceed
 * one storage binding the planes are processed in chunks (each binding a window starting
 * at an aligned offset); `code(planes)` makes the WGSL for a chunk of that many planes,
 * indexing the bindings from 0, and `invocations(planes)` gives its 1-D size. Bindings
 * with a `read` name are read through flat textures where the adapter's storage loads are
 * slow (`runReading`; in chunks too, when a chunk's window starts and ends on 16 bytes).
 */
export function runPlanes(
  op: string,
  planes: number,
  bindings: PlaneBinding[],
  code: (planes: number) => string,
  workgroups: (planes: number) => [number, number],
): void {
  const g = gpu(), reads = bindings.map((b) => b.read ?? null);
  const runChunk = (wgsl: string, binds: (Tensor | BufferWindow)[], wg: [number, number]) =>
    reads.some((r) => r !== null)
      ? runReading(wgsl, binds, reads, wg, { scalars: true })
      : run(wgsl, binds, wg);
  const largest = Math.max(...bindings.map((b) => b.perPlane * 4));
  if (largest * planes <= g.maxBindingBytes) {
    runChunk(code(planes), bindings.map((b) => b.t), workgroups(planes));
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
    const windows = bindings.map((b) => ({
      buffer: b.t.buffer,
      offset: p0 * b.perPlane * 4,
      size: Math.max(4, n * b.perPlane * 4),
    }));
    runChunk(code(n), windows, workgroups(n));
  }
}

/** The WGSL that decodes a flat per-plane index `i` into `plane` and i32 (`r0`, `r1`). */
function decode(per: number, inner: number, r0: string, r1: string): string {
  return `  let plane = i / ${per}u;
  let r = i % ${per}u;
  let ${r0} = i32(r / ${inner}u);
  let ${r1} = i32(r % ${inner}u);`;
}

/**
 * WGSL running `body` for every tap (ky, kx) of window (oh, ow) that lies inside the
 * input, with `xi` (u32) its flat index (after `xb`, the plane's first input) and `tap`
 * (i32) its index ky·KW + kx.
 */
function eachTap(q: Geometry, body: string): string {
  return `  for (var ky = 0; ky < ${q.KH}; ky++) {
    let ih = oh * ${q.SH} - ${q.PT} + ky * ${q.DH};
    if (ih < 0 || ih >= ${q.H}) { continue; }
    for (var kx = 0; kx < ${q.KW}; kx++) {
      let iw = ow * ${q.SW} - ${q.PL} + kx * ${q.DW};
      if (iw < 0 || iw >= ${q.W}) { continue; }
      let xi = xb + u32(ih * ${q.W} + iw);
      let tap = ky * ${q.KW} + kx;
      ${body}
    }
  }`;
}

/**
 * WGSL for the backward gather of a windowed pool: with `ih`, `iw` (i32) the input
 * coordinates and `ob` (u32) the plane's first output, runs `body` once for every window
 * (oh, ow) that covers the input through tap (ky, kx), with `o` the output's flat index
 * and `tap` the tap's index. It visits only the ⌈k·d / s⌉ candidate windows per axis.
 */
function eachWindow(q: Geometry, body: string): string {
  const axis = (c: string, i: string, k: number, s: number, d: number, p: number, O: number) => {
    const span = (k - 1) * d;
    return `let t${c} = ${i} + ${p};
  let ${c}0 = select(0, (t${c} - ${span} + ${s - 1}) / ${s}, t${c} > ${span});
  let ${c}1 = min(${O - 1}, t${c} / ${s});`;
  };
  const tap = (c: string, k: string, s: number, d: number) =>
    `let r${c} = t${c} - ${c} * ${s};${d > 1 ? ` if (r${c} % ${d} != 0) { continue; }` : ""}
    let ${k} = r${c} / ${d};`;
  return `  ${axis("oh", "ih", q.KH, q.SH, q.DH, q.PT, q.OH)}
  ${axis("ow", "iw", q.KW, q.SW, q.DW, q.PL, q.OW)}
  for (var oh = oh0; oh <= oh1; oh++) {
    ${tap("oh", "ky", q.SH, q.DH)}
    for (var ow = ow0; ow <= ow1; ow++) {
      ${tap("ow", "kx", q.SW, q.DW)}
      let o = ob + u32(oh * ${q.OW} + ow);
      let tap = ky * ${q.KW} + kx;
      ${body}
    }
  }`;
}

const WGS = 64;

function forwardCode(q: Geometry, r: WindowReduction, planes: number, arg: boolean): string {
  const b: [string, string, boolean][] = [["x", "f32", false], ["y", "f32", true]];
  if (arg) b.push(["am", "i32", true]);
  return `${storageBindings(b)}
${r.prelude ?? ""}
${main1d(planes * q.OH * q.OW, WGS)}
${decode(q.OH * q.OW, q.OW, "oh", "ow")}
  let xb = plane * ${q.H * q.W}u;
  ${r.init}
${eachTap(q, `let v = x[xi];\n      ${r.accumulate}`)}
  y[i] = ${r.finish};${
    arg
      ? `
  am[i] = ${r.argmax};`
      : ""
  }
}`;
}

/** The saved tensors the backward binds (after g), in order. */
function savedNames(r: WindowReduction): [string, string, boolean][] {
  const out: [string, string, boolean][] = [];
  if (r.uses?.x) out.push(["x", "f32", false]);
  if (r.uses?.y) out.push(["y", "f32", false]);
  if (r.argmax) out.push(["am", "i32", false]);
  return out;
}

/** Backward by window (disjoint windows): each output writes the gradient of its taps. */
function scatterCode(q: Geometry, r: WindowReduction, planes: number): string {
  const b: [string, string, boolean][] = [["g", "f32", false], ...savedNames(r), [
    "dx",
    "f32",
    true,
  ]];
  return `${storageBindings(b)}
${r.prelude ?? ""}
${main1d(planes * q.OH * q.OW, WGS)}
${decode(q.OH * q.OW, q.OW, "oh", "ow")}
  let xb = plane * ${q.H * q.W}u;
  let go = g[i];${r.uses?.y ? "\n  let yv = y[i];" : ""}${r.argmax ? "\n  let win = am[i];" : ""}
${eachTap(q, `${r.uses?.x ? "let v = x[xi];\n      " : ""}dx[xi] = ${r.grad};`)}
}`;
}

/** Backward by input element (overlapping windows): a gather, no atomics. */
function gatherCode(q: Geometry, r: WindowReduction, planes: number): string {
  const b: [string, string, boolean][] = [["g", "f32", false], ...savedNames(r), [
    "dx",
    "f32",
    true,
  ]];
  const per = [
    "let go = g[o];",
    r.uses?.y ? "let yv = y[o];" : "",
    r.argmax ? "let win = am[o];" : "",
    `acc = acc + ${r.grad};`,
  ].filter(Boolean).join(" ");
  return `${storageBindings(b)}
${r.prelude ?? ""}
${main1d(planes * q.H * q.W, WGS)}
${decode(q.H * q.W, q.W, "ih", "iw")}
  let ob = plane * ${q.OH * q.OW}u;${r.uses?.x ? "\n  let v = x[i];" : ""}
  var acc = 0.0;
${eachWindow(q, per)}
  dx[i] = acc;
}`;
}

/**
 * A windowed pool of an NCHW tensor made from `reduction` (given the resolved geometry),
 * forward and gradient. The backward scatters from each window when windows are disjoint
 * (stride ≥ window span: the usual kernel = stride case), else gathers per input element.
 *
 * @example
 * const minPool = (x: Tensor, o: WindowOptions) =>
 *   windowPool("minPool2d", x, o, () => ({
 *     init: "var m = bitcast<f32>(0x7f800000u); var w = -1;",
 *     accumulate: "if (w < 0 || v < m) { m = v; w = tap; }",
 *     finish: "m",
 *     argmax: "w",
 *     grad: "select(0.0, go, tap == win)",
 *   }));
 */
export function windowPool(
  op: string,
  x: Tensor,
  opts: WindowOptions,
  reduction: (q: Geometry) => WindowReduction,
  needGrad = true,
): Tensor {
  checkNCHW(op, x);
  const q = geometry(op, x.shape, opts);
  const r = reduction(q);
  const planes = q.N * q.C, perIn = q.H * q.W, perOut = q.OH * q.OW;
  const y = empty([q.N, q.C, q.OH, q.OW]);
  if (y.size === 0) return y;
  const am = r.argmax && needGrad ? empty(y.shape) : null;
  const vp = vectorPlan(q), per = vp ? perOut / vp.P : perOut;
  // The scalar kernels (the backward's gather among them) may read their f32 inputs through
  // textures (`runPlanes`); the vector kernels keep theirs on storage.
  const named = (name: string, scalar = !vp) => (scalar ? name : undefined);
  const io: PlaneBinding[] = [{ t: x, perPlane: perIn, read: named("x") }];
  io.push({ t: y, perPlane: perOut });
  if (am) io.push({ t: am, perPlane: perOut });
  runPlanes(
    op,
    planes,
    io,
    (p) => (vp ? vectorForward(q, r, p, !!am, vp) : forwardCode(q, r, p, !!am)),
    (p) => grid(p * per, WGS),
  );
  if (r.argmax && !am) return y;
  const extra = [...(r.uses?.y ? [y] : []), ...(am ? [am] : [])];
  const out = record(op, y, [x], (g, saved) => {
    const dx = empty(x.shape);
    const [sx, ...rest] = saved;
    const gather = !windowsDisjoint(q), scalar = gather || !vp;
    const bound: PlaneBinding[] = [{ t: g, perPlane: perOut, read: named("g", scalar) }];
    if (r.uses?.x) bound.push({ t: sx, perPlane: perIn, read: named("x", scalar) });
    if (r.uses?.y) bound.push({ t: rest.shift()!, perPlane: perOut, read: named("y", scalar) });
    for (const t of rest) bound.push({ t, perPlane: perOut }); // the argmax (i32)
    if (!gather) {
      if (!windowsCover(q)) gpu().clear(dx.buffer, 0, dx.bytes);
      bound.push({ t: dx, perPlane: perIn });
      runPlanes(
        `${op} backward`,
        planes,
        bound,
        (p) => (vp ? vectorScatter(q, r, p, vp) : scatterCode(q, r, p)),
        (p) => grid(p * per, WGS),
      );
    } else {
      bound.push({ t: dx, perPlane: perIn });
      runPlanes(
        `${op} backward`,
        planes,
        bound,
        (p) => gatherCode(q, r, p),
        (p) => grid(p * perIn, WGS),
      );
    }
    return [dx];
  }, extra);
  am?.dispose(); // record() keeps its own reference
  return out;
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
