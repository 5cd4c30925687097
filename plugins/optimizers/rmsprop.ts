/**
 * RMSProp, as torch.optim.RMSprop: s ← αs + (1−α)g²; with `centered`, ḡ ← αḡ + (1−α)g and
 * the denominator uses s − ḡ²; d = √(…) + ε; with momentum μ > 0, b ← μb + g/d, w ← w − ηb,
 * else w ← w − η·g/d.
 *
 * @module
 */
import type { Plugin } from "../registry.ts";
import type { Link } from "./chain.ts";
import { optimizerPlugin, type OptimizerPluginOptions } from "./plugin.ts";

/** Options of the RMSProp link. */
export interface RmspropOptions {
  /** Smoothing constant α (default 0.99). */
  alpha?: number;
  /** ε (default 1e-8). */
  eps?: number;
  /** Momentum μ (default 0). A momentum buffer exists only when μ > 0 at creation. */
  momentum?: number;
  /** Normalise by the variance estimate instead of the second moment (default false). */
  centered?: boolean;
}

/** The RMSProp link (state: `sq`, plus `avg` when centered and `buf` with momentum). */
export function rmsprop(o: RmspropOptions = {}): Link {
  const centered = o.centered ?? false;
  const mom = (o.momentum ?? 0) > 0;
  const init: Record<string, number> = { sq: 0 };
  if (centered) init.avg = 0;
  if (mom) init.buf = 0;
  return {
    name: "rmsprop",
    hyper: { alpha: o.alpha ?? 0.99, eps: o.eps ?? 1e-8, momentum: o.momentum ?? 0 },
    init,
    scalars: ({ h }) => {
      if (!mom && h.momentum !== 0) {
        throw new Error(
          "rmsprop: momentum > 0 needs a momentum buffer: create it with momentum > 0",
        );
      }
      return { a: h.alpha, ca: 1 - h.alpha, eps: h.eps, mu: h.momentum };
    },
    update: (x) => {
      const sq = x.slot("sq"), s = x.s;
      const lines = [`    ${sq} = ${s("a")} * ${sq} + ${s("ca")} * (g * g);`];
      if (centered) {
        const avg = x.slot("avg");
        lines.push(`    ${avg} = ${s("a")} * ${avg} + ${s("ca")} * g;`);
        lines.push(`    let d = sqrt(${sq} - ${avg} * ${avg}) + ${s("eps")};`);
      } else {
        lines.push(`    let d = sqrt(${sq}) + ${s("eps")};`);
      }
      if (mom) {
        const buf = x.slot("buf");
        lines.push(`    ${buf} = ${s("mu")} * ${buf} + g / d;`);
        lines.push(`    w = w - ${x.lr} * ${buf};`);
      } else {
        lines.push(`    w = w - ${x.lr} * (g / d);`);
      }
      return lines.join("\n");
    },
  };
}

/** Plugin "rmsprop": options `{ params, lr = 0.01, alpha, eps, momentum, centered, regularizers? }`. */
export const rmspropPlugin: Plugin<OptimizerPluginOptions & RmspropOptions> = optimizerPlugin(
  "rmsprop",
  "RMSProp: rates from a moving average of squared gradients",
  0.01,
  (o: RmspropOptions) => rmsprop(o),
);
