/**
 * L2 regularisation as a gradient link: C = C₀ + (λ/2n)·Σw², so g ← g + (λ/n)·w, where n is
 * the size of the training set (default 1, which makes λ PyTorch's `weight_decay` in
 * torch.optim.SGD/Adam and ONNX's `norm_coefficient`). Put it before the optimizer link.
 *
 * @module
 */
import type { Link } from "../optimizers/chain.ts";
import type { Plugin } from "../registry.ts";

/** Options of the L2 link. */
export interface L2Options {
  /** λ (default 0.0001); per-group hyper-parameter "l2". */
  lambda?: number;
  /** n, the training-set size (default 1). */
  n?: number;
}

/** The L2 link: g ← g + (λ/n)·w. */
export function l2(o: L2Options = {}): Link {
  const n = o.n ?? 1;
  if (!(n > 0)) throw new Error(`l2: n must be positive, got ${n}`);
  return {
    name: "l2",
    hyper: { l2: o.lambda ?? 1e-4 },
    init: {},
    scalars: ({ h }) => ({ c: h.l2 / n }),
    update: (v) => `    g = g + ${v.s("c")} * w;`,
  };
}

/** Plugin "l2" (kind regularizer): options `{ lambda = 1e-4, n = 1 }`. */
export const l2Plugin: Plugin<L2Options, Link> = {
  kind: "regularizer",
  name: "l2",
  description: "L2 penalty C₀ + (λ/2n)·Σw² as the gradient term (λ/n)·w",
  create: (o) => l2(o),
};
