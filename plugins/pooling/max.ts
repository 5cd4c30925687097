/**
 * Max pooling over 2-D windows (stride, padding, dilation, ceil mode), as PyTorch's
 * `MaxPool2d` and ONNX's `MaxPool`. The forward kernel also writes, when a gradient is
 * needed, which tap of each window won (the first maximum, or the first NaN); the
 * backward kernel gathers, for each input element, the output gradients of the windows
 * it won. Padding never wins (it counts as −∞).
 *
 * The file also registers the layer's ONNX codec (MaxPool ⇄ MaxPool2d).
 *
 * @module
 */
import { isGradEnabled, record } from "../../core/autograd.ts";
import { decls, grid, lit, main1d } from "../../core/ops/kernel.ts";
import { empty, type Tensor } from "../../core/tensor.ts";
import type { Plugin } from "../registry.ts";
import { registerCodec } from "../../onnx/codec.ts";
import { pair } from "../../onnx/codecs/util.ts";
import { ints } from "../../onnx/emit.ts";
import { dilationOf, windowAttrs, windowOfNode } from "./codec_window.ts";
import {
  checkNCHW,
  gatherWindows,
  type Geometry,
  geometry,
  runPlanes,
  scanWindow,
  type WindowOptions,
  WindowPool2d,
} from "./window.ts";

/** Options of max pooling (PyTorch's defaults: stride = kernel, no padding). */
export type MaxPoolOptions = WindowOptions;

const WGS = 64;

/** The forward kernel: y (and, with `arg`, the winning tap per window as an f32). */
function forwardCode(q: Geometry, planes: number, arg: boolean): string {
  const n = planes * q.OH * q.OW;
  const take = `if (win < 0 || v > best || (v != v && best == best)) {
        best = v;
        win = ky * ${q.kw} + kx;
      }`;
  return `${decls(arg ? ["x", "y", "am"] : ["x", "y"], arg ? 2 : 1)}
${main1d(n, WGS)}
  var best = ${lit(-Infinity)};
  var win = -1;
${scanWindow(q, take)}
  y[i] = best;${arg ? "\n  am[i] = f32(win);" : ""}
}`;
}

/** The backward kernel: dx[i] = Σ g over the windows whose winning tap is input i. */
function backwardCode(q: Geometry, planes: number): string {
  const n = planes * q.H * q.W;
  return `${decls(["g", "am", "dx"])}
${main1d(n, WGS)}
  let plane = i / ${q.H * q.W}u;
  let r = i % ${q.H * q.W}u;
  let ih = i32(r / ${q.W}u);
  let iw = i32(r % ${q.W}u);
  let ob = plane * ${q.OH * q.OW}u;
  var acc = 0.0;
${gatherWindows(q, "if (am[o] == f32(ky * " + q.kw + " + kx)) { acc = acc + g[o]; }")}
  dx[i] = acc;
}`;
}

/**
 * 2-D max pooling of an NCHW tensor. The gradient goes to the first maximum of each
 * window (PyTorch's choice).
 *
 * @example
 * const y = maxPool2d(x, { kernel: 2 }); // [N, C, H, W] → [N, C, H/2, W/2]
 * const z = maxPool2d(x, { kernel: 3, stride: 2, padding: 1, ceilMode: true });
 */
export function maxPool2d(x: Tensor, opts: MaxPoolOptions): Tensor {
  checkNCHW("maxPool2d", x);
  const q = geometry("maxPool2d", x.shape, opts);
  const planes = q.N * q.C;
  const y = empty([q.N, q.C, q.OH, q.OW]);
  if (y.size === 0) return y;
  const wantArg = isGradEnabled() && x.requiresGrad;
  const am = wantArg ? empty(y.shape) : null;
  const io = [
    { t: x, perPlane: q.H * q.W },
    { t: y, perPlane: q.OH * q.OW },
    ...(am ? [{ t: am, perPlane: q.OH * q.OW }] : []),
  ];
  runPlanes(
    "maxPool2d",
    planes,
    io,
    (p) => forwardCode(q, p, am !== null),
    (p) => grid(p * q.OH * q.OW, WGS),
  );
  if (!am) return y;
  record("maxPool2d", y, [x], (g, [, sam]) => {
    const dx = empty(x.shape);
    runPlanes(
      "maxPool2d backward",
      planes,
      [{ t: g, perPlane: q.OH * q.OW }, { t: sam, perPlane: q.OH * q.OW }, {
        t: dx,
        perPlane: q.H * q.W,
      }],
      (p) => backwardCode(q, p),
      (p) => grid(p * q.H * q.W, WGS),
    );
    return [dx];
  }, [am]);
  am.dispose(); // record() keeps its own reference
  return y;
}

/**
 * Max pooling as a layer.
 *
 * @example
 * const net = new Sequential(new Conv2d(1, 16, 3), new ReLU(), new MaxPool2d({ kernel: 2 }));
 */
export class MaxPool2d extends WindowPool2d<MaxPoolOptions> {
  /** Copies `options`; throws now on an invalid kernel, stride, dilation or padding. */
  constructor(options: MaxPoolOptions) {
    super("MaxPool2d", maxPool2d, options);
  }
}

/** The "maxpool" plugin: `create("pooling", "maxpool", { kernel: 2 })`. */
export const maxPoolPlugin: Plugin<MaxPoolOptions, MaxPool2d> = {
  kind: "pooling",
  name: "maxpool",
  description: "max over each window (stride, padding, dilation, ceil mode)",
  create: (options) => new MaxPool2d(options),
};

/** The ONNX codec (registered on import): MaxPool (no Indices output) ⇄ MaxPool2d. */
export const maxPoolCodec = registerCodec<MaxPool2d>({
  name: "maxpool",
  opTypes: ["MaxPool"],
  import(node, imp) {
    const x = imp.tensorIn(node, 0);
    if (node.outputs.length > 1 && node.outputs[1]) {
      imp.fail(node, "the Indices output is not supported");
    }
    const opts = { ...windowOfNode(node, imp), dilation: pair(imp, node, "dilations", 1) };
    imp.addStep(node, new MaxPool2d(opts), [x]);
  },
  matches: (m) => m instanceof MaxPool2d,
  export(m, ctx) {
    const a = windowAttrs(m.options, ctx.x);
    const [dh, dw] = dilationOf(m.options);
    if (dh !== 1 || dw !== 1) a.dilations = ints([dh, dw]);
    return ctx.node("MaxPool", [ctx.input], a);
  },
});
