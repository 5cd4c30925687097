/**
 * Momentum SGD as an optimizer link and a plugin. By default it follows the classical form
 * v ← μv + η∇C, w ← w − v (the learning rate inside the velocity). With
 * `lrInVelocity: false` it follows PyTorch and ONNX instead: v ← μv + (1 − d)·∇C,
 * w ← w − η·v. The two agree while η is constant; they differ when η changes (the first
 * keeps the old rate in the velocity). `dampening` d scales the gradient from the second
 * step on, as in PyTorch (the first step uses the full gradient).
 *
 * @module
 */
import type { Plugin } from "../registry.ts";
import type { Link } from "./chain.ts";
import { optimizerPlugin, type OptimizerPluginOptions } from "./plugin.ts";

/** Options of the momentum links. */
export interface MomentumOptions {
  /** μ (default 0.9). */
  momentum?: number;
  /** d (default 0). */
  dampening?: number;
  /** v ← μv + η∇C, w ← w − v (true, the default) or v ← μv + ∇C, w ← w − ηv (false). */
  lrInVelocity?: boolean;
  /** Nesterov's look-ahead: w ← w − η(∇C + μv) (in the matching form). */
  nesterov?: boolean;
}

/** The momentum link (state: the velocity `v`). */
export function momentum(o: MomentumOptions = {}): Link {
  const inside = o.lrInVelocity ?? true;
  const nesterov = o.nesterov ?? false;
  return {
    name: nesterov ? "nesterov" : "momentum",
    hyper: { momentum: o.momentum ?? 0.9, dampening: o.dampening ?? 0 },
    init: { v: 0 },
    scalars: ({ t, lr, h }) => {
      const gc = t === 1 ? 1 : 1 - h.dampening;
      return { mu: h.momentum, gc: inside ? lr * gc : gc };
    },
    update: (x) => {
      const v = x.slot("v"), mu = x.s("mu"), gc = x.s("gc");
      const vel = `    ${v} = ${mu} * ${v} + ${gc} * g;`;
      if (inside) {
        return nesterov
          ? `${vel}\n    w = w - (${x.lr} * g + ${mu} * ${v});`
          : `${vel}\n    w = w - ${v};`;
      }
      return nesterov
        ? `${vel}\n    w = w - ${x.lr} * (g + ${mu} * ${v});`
        : `${vel}\n    w = w - ${x.lr} * ${v};`;
    },
  };
}

/** Plugin "momentum": options `{ params, lr = 0.01, momentum = 0.9, dampening, lrInVelocity, regularizers? }`. */
export const momentumPlugin: Plugin<OptimizerPluginOptions & MomentumOptions> = optimizerPlugin(
  "momentum",
  "momentum SGD: v ← μv + η∇C, w ← w − v",
  0.01,
  (o: MomentumOptions) => momentum({ ...o, nesterov: false }),
);
