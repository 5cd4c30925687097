/**
 * Decoupled weight decay: w ← w·(1 − ηλ), applied to the weight directly, not through the
 * gradient (Loshchilov & Hutter; torch.optim.AdamW). Before the optimizer link it is
 * exactly AdamW's order. `lrScaled: false` makes it w ← w·(1 − λ) (ONNX Adam's
 * `norm_coefficient_post`, placed after the optimizer link).
 *
 * @module
 */
import type { Link } from "../optimizers/chain.ts";
import type { Plugin } from "../registry.ts";

/** Options of the weight-decay link. */
export interface WeightDecayOptions {
  /** λ (default 0.01); per-group hyper-parameter "weightDecay". */
  weightDecay?: number;
  /** Alias of `weightDecay`. */
  lambda?: number;
  /** Multiply λ by the learning rate (default true). */
  lrScaled?: boolean;
}

/** The decoupled weight-decay link: w ← w·(1 − ηλ). */
export function weightDecay(o: WeightDecayOptions = {}): Link {
  const scaled = o.lrScaled ?? true;
  return {
    name: "weight_decay",
    hyper: { weightDecay: o.weightDecay ?? o.lambda ?? 0.01 },
    init: {},
    scalars: ({ lr, h }) => ({ k: scaled ? 1 - lr * h.weightDecay : 1 - h.weightDecay }),
    update: (v) => `    w = w * ${v.s("k")};`,
  };
}

/** Plugin "weight_decay" (kind regularizer): options `{ weightDecay = 0.01, lrScaled = true }`. */
export const weightDecayPlugin: Plugin<WeightDecayOptions, Link> = {
  kind: "regularizer",
  name: "weight_decay",
  description: "decoupled weight decay w ← w·(1 − ηλ) (AdamW)",
  create: (o) => weightDecay(o),
};
