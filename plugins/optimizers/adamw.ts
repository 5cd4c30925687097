/**
 * AdamW: Adam with decoupled weight decay, w ← w·(1 − ηλ) before the Adam update, exactly
 * as torch.optim.AdamW (default λ = 0.01). It is the chain `[weightDecay(λ), adam()]`.
 *
 * @module
 */
import type { Plugin } from "../registry.ts";
import { weightDecay } from "../regularizers/weight_decay.ts";
import { adam, type AdamOptions } from "./adam.ts";
import type { Link } from "./chain.ts";
import { optimizerPlugin, type OptimizerPluginOptions } from "./plugin.ts";

/** Options of AdamW: Adam's plus the decoupled decay λ (`weightDecay`, default 0.01). */
export interface AdamWOptions extends AdamOptions {
  /** Decoupled decay λ: each step w ← w·(1 − ηλ) before Adam (default 0.01). */
  weightDecay?: number;
}

/** The AdamW links: decoupled weight decay, then Adam. */
export function adamw(o: AdamWOptions = {}): Link[] {
  return [weightDecay({ weightDecay: o.weightDecay ?? 0.01 }), adam(o)];
}

/** Plugin "adamw": options `{ params, lr = 0.001, weightDecay = 0.01, beta1, beta2, eps, amsgrad, regularizers? }`. */
export const adamwPlugin: Plugin<OptimizerPluginOptions & AdamWOptions> = optimizerPlugin(
  "adamw",
  "Adam with decoupled weight decay (AdamW)",
  0.001,
  (o: AdamWOptions) => adamw(o),
);
