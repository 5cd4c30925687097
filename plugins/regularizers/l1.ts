/**
 * L1 regularisation as a gradient link: C = C₀ + (λ/2)·Σ|w| (divided by n when `n` is
 * given), so g ← g + (λ/2n)·sign(w), with the sub-gradient 0 at w = 0. Put it before the
 * optimizer link.
 *
 * @module
 */
import type { Link } from "../optimizers/chain.ts";
import type { Plugin } from "../registry.ts";

/** Options of the L1 link. */
export interface L1Options {
  /** λ (default 0.0001); per-group hyper-parameter "l1". */
  lambda?: number;
  /** n (default 1): C = C₀ + (λ/2n)·Σ|w|. */
  n?: number;
}

/** The L1 link: g ← g + (λ/2n)·sign(w). */
export function l1(o: L1Options = {}): Link {
  const n = o.n ?? 1;
  if (!(n > 0)) throw new Error(`l1: n must be positive, got ${n}`);
  return {
    name: "l1",
    hyper: { l1: o.lambda ?? 1e-4 },
    init: {},
    scalars: ({ h }) => ({ c: h.l1 / (2 * n) }),
    update: (v) => `    g = g + ${v.s("c")} * sign(w);`,
  };
}

/** Plugin "l1" (kind regularizer): options `{ lambda = 1e-4, n = 1 }`. */
export const l1Plugin: Plugin<L1Options, Link> = {
  kind: "regularizer",
  name: "l1",
  description: "L1 penalty C₀ + (λ/2)·Σ|w| as the gradient term (λ/2)·sign(w)",
  create: (o) => l1(o),
};
