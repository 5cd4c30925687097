/**
 * AdaGrad, as torch.optim.Adagrad: h ← h + g², w ← w − η_t · g/(√h + ε) with
 * η_t = η / (1 + (t − 1)·lrDecay). Also ONNX's Adagrad (its T is t − 1).
 *
 * @module
 */
import type { Plugin } from "../registry.ts";
import type { Link } from "./chain.ts";
import { optimizerPlugin, type OptimizerPluginOptions } from "./plugin.ts";

/** Options of the AdaGrad link. */
export interface AdagradOptions {
  /** Learning-rate decay (default 0). */
  lrDecay?: number;
  /** ε (default 1e-10). */
  eps?: number;
  /** Initial value of the accumulator h (default 0). */
  initialAccumulator?: number;
}

/** The AdaGrad link (state: the sum of squares `h`). */
export function adagrad(o: AdagradOptions = {}): Link {
  return {
    name: "adagrad",
    hyper: { lrDecay: o.lrDecay ?? 0, eps: o.eps ?? 1e-10 },
    init: { h: o.initialAccumulator ?? 0 },
    scalars: ({ t, lr, h }) => ({ clr: lr / (1 + (t - 1) * h.lrDecay), eps: h.eps }),
    update: (x) => {
      const h = x.slot("h");
      return `    ${h} = ${h} + g * g;
    w = w - ${x.s("clr")} * (g / (sqrt(${h}) + ${x.s("eps")}));`;
    },
  };
}

/** Plugin "adagrad": options `{ params, lr = 0.01, lrDecay, eps, initialAccumulator, regularizers? }`. */
export const adagradPlugin: Plugin<OptimizerPluginOptions & AdagradOptions> = optimizerPlugin(
  "adagrad",
  "AdaGrad: per-element rates from the sum of squared gradients",
  0.01,
  (o: AdagradOptions) => adagrad(o),
);
