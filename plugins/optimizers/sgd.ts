/**
 * Plain stochastic gradient descent, w ← w − η·g, as an optimizer link and a plugin.
 *
 * @example
 * const opt = new Optimizer(model.parameters(), [sgd()], { lr: 0.1 });
 *
 * @module
 */
import type { Plugin } from "../registry.ts";
import type { Link } from "./chain.ts";
import { optimizerPlugin, type OptimizerPluginOptions } from "./plugin.ts";

/** The SGD link: w ← w − η·g. No state, no hyper-parameters besides `lr`. */
export function sgd(): Link {
  return {
    name: "sgd",
    hyper: {},
    init: {},
    scalars: () => ({}),
    update: (v) => `    w = w - ${v.lr} * g;`,
  };
}

/** Plugin "sgd": options `{ params, lr = 0.01, regularizers? }`. */
export const sgdPlugin: Plugin<OptimizerPluginOptions> = optimizerPlugin(
  "sgd",
  "stochastic gradient descent: w ← w − η·∇C",
  0.01,
  () => sgd(),
);
