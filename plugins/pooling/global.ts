/**
 * Global pooling: the mean or the maximum of each whole H×W plane, [N, C, H, W] →
 * [N, C, 1, 1] (ONNX's `GlobalAveragePool` / `GlobalMaxPool`; follow with Flatten for a
 * classifier head). They run the adaptive-average and max-pool kernels with one window
 * per plane, so forward and backward are those kernels' (the max gradient goes to the
 * first maximum of each plane).
 *
 * The file also registers the layers' ONNX codecs (GlobalAveragePool, GlobalMaxPool).
 *
 * @module
 */
import { Module } from "../../core/nn/module.ts";
import type { Tensor } from "../../core/tensor.ts";
import type { Plugin } from "../registry.ts";
import { registerCodec } from "../../onnx/codec.ts";
import { adaptiveAvgPool2d } from "./adaptive.ts";
import { maxPool2d } from "./max.ts";
import { checkNCHW } from "./window.ts";

/**
 * The mean of each plane: [N, C, H, W] → [N, C, 1, 1].
 *
 * @example
 * const features = globalAvgPool2d(x);
 */
export function globalAvgPool2d(x: Tensor): Tensor {
  return adaptiveAvgPool2d(x, 1, "globalAvgPool2d");
}

/**
 * The maximum of each plane: [N, C, H, W] → [N, C, 1, 1].
 *
 * @example
 * const features = globalMaxPool2d(x);
 */
export function globalMaxPool2d(x: Tensor): Tensor {
  checkNCHW("globalMaxPool2d", x);
  return maxPool2d(x, { kernel: [x.shape[2], x.shape[3]] });
}

/** Global average pooling as a layer. */
export class GlobalAvgPool2d extends Module {
  /** x [N, C, H, W] → [N, C, 1, 1], the mean of each plane. */
  forward(x: Tensor): Tensor {
    return globalAvgPool2d(x);
  }
}

/** Global max pooling as a layer. */
export class GlobalMaxPool2d extends Module {
  /** x [N, C, H, W] → [N, C, 1, 1], the maximum of each plane. */
  forward(x: Tensor): Tensor {
    return globalMaxPool2d(x);
  }
}

/** The "globalavgpool" plugin (no options). */
export const globalAvgPoolPlugin: Plugin<Record<string, never>, GlobalAvgPool2d> = {
  kind: "pooling",
  name: "globalavgpool",
  description: "mean of each whole plane → [N, C, 1, 1]",
  create: () => new GlobalAvgPool2d(),
};

/** The "globalmaxpool" plugin (no options). */
export const globalMaxPoolPlugin: Plugin<Record<string, never>, GlobalMaxPool2d> = {
  kind: "pooling",
  name: "globalmaxpool",
  description: "maximum of each whole plane → [N, C, 1, 1]",
  create: () => new GlobalMaxPool2d(),
};

/** The ONNX codecs (registered on import): GlobalAveragePool / GlobalMaxPool ⇄ the layers. */
export const globalAvgPoolCodec = registerCodec<GlobalAvgPool2d>({
  name: "globalavgpool",
  opTypes: ["GlobalAveragePool"],
  import: (node, imp) => imp.addStep(node, new GlobalAvgPool2d(), [imp.tensorIn(node, 0)]),
  matches: (m) => m instanceof GlobalAvgPool2d,
  export: (_m, ctx) => ctx.node("GlobalAveragePool", [ctx.input]),
});

/** See `globalAvgPoolCodec`. */
export const globalMaxPoolCodec = registerCodec<GlobalMaxPool2d>({
  name: "globalmaxpool",
  opTypes: ["GlobalMaxPool"],
  import: (node, imp) => imp.addStep(node, new GlobalMaxPool2d(), [imp.tensorIn(node, 0)]),
  matches: (m) => m instanceof GlobalMaxPool2d,
  export: (_m, ctx) => ctx.node("GlobalMaxPool", [ctx.input]),
});
