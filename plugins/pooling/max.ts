/**
 * Max pooling over 2-D windows (stride, padding, dilation, ceil mode), as PyTorch's
 * `MaxPool2d` and ONNX's `MaxPool`, made by the window-reduce generator of `window.ts`.
 * The forward also writes, when a gradient is needed, which tap of each window won (the
 * first maximum, or the first NaN); the backward reads it (no recomputation) and gives each
 * window's gradient to its winner. Padding never wins (it is never read).
 *
 * The file also registers the layer's ONNX codec (MaxPool ⇄ MaxPool2d).
 *
 * @module
 */
import { isGradEnabled } from "../../core/autograd.ts";
import { lit } from "../../core/ops/kernel.ts";
import type { Tensor } from "../../core/tensor.ts";
import type { Plugin } from "../registry.ts";
import { registerCodec } from "../../onnx/codec.ts";
import { pair } from "../../onnx/codecs/util.ts";
import { ints } from "../../onnx/emit.ts";
import { dilationOf, windowAttrs, windowOfNode } from "./codec_window.ts";
import { type WindowOptions, windowPool, WindowPool2d, type WindowReduction } from "./window.ts";

/** Options of max pooling (PyTorch's defaults: stride = kernel, no padding). */
export type MaxPoolOptions = WindowOptions;

/** The max reduction: the first maximum (or the first NaN) wins and is saved for backward. */
const MAX: WindowReduction = {
  init: `var best = ${lit(-Infinity)};
  var win = -1;`,
  accumulate: `if (win < 0 || v > best || (v != v && best == best)) {
        best = v;
        win = tap;
      }`,
  finish: "best",
  argmax: "win",
  grad: "select(0.0, go, tap == win)",
};

/**
 * 2-D max pooling of an NCHW tensor. The gradient goes to the first maximum of each
 * window (PyTorch's choice), read from the winners the forward saved.
 *
 * @example
 * const y = maxPool2d(x, { kernel: 2 }); // [N, C, H, W] → [N, C, H/2, W/2]
 * const z = maxPool2d(x, { kernel: 3, stride: 2, padding: 1, ceilMode: true });
 */
export function maxPool2d(x: Tensor, opts: MaxPoolOptions): Tensor {
  return windowPool("maxPool2d", x, opts, () => MAX, isGradEnabled() && x.requiresGrad);
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
