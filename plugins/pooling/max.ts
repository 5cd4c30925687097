/**
 * Max pooling over 2-D windows (stride, padding, dilation, ceil mode), as PyTorch's
 * `MaxPool2d` and ONNX's `MaxPool`, made by the window-reduce generator of `window.ts`.
 * The forward also writes, when a gradient is needed, which tap of each window won (the
 * first maximum, or the first NaN); the backward reads it (no recomputation) and gives each
 * window's gradient to its winner. Padding never wins (it is never read).
 *
 * The file also registers the layer's ONNX codec (MaxPool ⇄ MaxPool2d), and the fusion of
 * Conv2d → ReLU → a 2×2 MaxPool2d into one op (`conv2dMaxPool2`: the convolution's
 * epilogue pools, so the full-size activation is never written).
 *
 * @module
 */
import { isGradEnabled } from "../../core/autograd.ts";
import { ReLU } from "../../core/nn/activation.ts";
import { Conv2d } from "../../core/nn/conv.ts";
import type { FusionRule } from "../../core/nn/sequential.ts";
import { conv2dMaxPool2 } from "../../core/ops/conv.ts";
import { convGeometry } from "../../core/ops/conv_ref.ts";
import { lit } from "../../core/ops/kernel.ts";
import type { Tensor } from "../../core/tensor.ts";
import type { Plugin } from "../registry.ts";
import { registerCodec } from "../../onnx/codec.ts";
import { pair } from "../../onnx/codecs/util.ts";
import { ints } from "../../onnx/emit.ts";
import { dilationOf, windowAttrs, windowOfNode } from "./codec_window.ts";
import {
  geometry,
  type WindowOptions,
  windowPool,
  WindowPool2d,
  type WindowReduction,
} from "./window.ts";

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

/**
 * Conv2d (tied or no bias) → ReLU → MaxPool2d as one op when the pool, on the convolution's
 * output, is the plain 2×2 stride-2 one of the fused kernels and the direct or (no gradient)
 * Winograd kernels run (the codec's fusion rule: registered with it).
 */
const convReluMaxPool: FusionRule = (m, next, x, after) => {
  if (!(m instanceof Conv2d && next instanceof ReLU && after instanceof MaxPool2d)) return null;
  if (m.bias?.shape.length === 3 || x.shape.length !== 4) return null;
  const c = convGeometry(x.shape, m.weight.shape, m.options);
  const q = geometry("MaxPool2d", [c.N, c.Cout, c.OH, c.OW], after.options);
  const plain = q.KH === 2 && q.KW === 2 && q.SH === 2 && q.SW === 2 && q.DH === 1 &&
    q.DW === 1 && q.PT === 0 && q.PL === 0 && q.OH === Math.floor(c.OH / 2) &&
    q.OW === Math.floor(c.OW / 2);
  if (!plain) return null;
  const y = conv2dMaxPool2(x, m.weight, m.bias, { ...m.options, relu: true });
  return y ? { y, span: 3 } : null;
};

/**
 * The ONNX codec (registered on import, with the Conv2d → ReLU → MaxPool2d fusion): MaxPool
 * (no Indices output) ⇄ MaxPool2d.
 */
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
  fuse: convReluMaxPool,
});
