/**
 * Nesterov momentum: v ← μv + η∇C, w ← w − (η∇C + μv) — PyTorch's form of Nesterov's
 * look-ahead (`lrInVelocity: false` gives v ← μv + ∇C, w ← w − η(∇C + μv), PyTorch's and
 * ONNX's exact arithmetic).
 *
 * @module
 */
import type { Plugin } from "../registry.ts";
import type { Link } from "./chain.ts";
import { momentum, type MomentumOptions } from "./momentum.ts";
import { optimizerPlugin, type OptimizerPluginOptions } from "./plugin.ts";

/** The Nesterov momentum link (state: the velocity `v`). */
export function nesterov(o: Omit<MomentumOptions, "nesterov"> = {}): Link {
  return momentum({ ...o, nesterov: true });
}

/** Plugin "nesterov": options `{ params, lr = 0.01, momentum = 0.9, dampening, lrInVelocity, regularizers? }`. */
export const nesterovPlugin: Plugin<OptimizerPluginOptions & MomentumOptions> = optimizerPlugin(
  "nesterov",
  "Nesterov momentum: v ← μv + η∇C, w ← w − (η∇C + μv)",
  0.01,
  (o: MomentumOptions) => nesterov(o),
);
