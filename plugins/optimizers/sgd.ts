/**
 * Plain stochastic gradient descent, w ← w − η·g, as an optimizer link, a plugin and the
 * `SGD` class (the project's one SGD). The learning rate is a value in the optimizer's
 * scalar buffer, never a shader constant: changing it compiles nothing.
 *
 * @example
 * const opt = new SGD(model.parameters(), 0.1); // = new Optimizer(params, [sgd()], { lr: 0.1 })
 * backward(loss); opt.step(); opt.zeroGrad();
 * opt.lr = 0.05;                                 // no recompilation
 *
 * @module
 */
import type { Plugin } from "../registry.ts";
import { type Link, Optimizer, type ParamList } from "./chain.ts";
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

/**
 * Plain SGD over a list of parameters (an `Optimizer` with the one link `sgd()`).
 * Parameters without a gradient (frozen, or unused this step) are skipped.
 */
export class SGD extends Optimizer {
  /** `params`: tensors or `[name, tensor]` pairs; `lr`: the learning rate η. */
  constructor(params: ParamList, lr: number) {
    super(params, [sgd()], { lr });
  }
}

/** Plugin "sgd": options `{ params, lr = 0.01, regularizers? }`. */
export const sgdPlugin: Plugin<OptimizerPluginOptions> = optimizerPlugin(
  "sgd",
  "stochastic gradient descent: w ← w − η·∇C",
  0.01,
  () => sgd(),
);
