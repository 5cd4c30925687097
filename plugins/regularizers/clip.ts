/**
 * Gradient clipping by global norm, as torch.nn.utils.clip_grad_norm_: with N the L2 norm
 * of all gradients together, g ← g · min(1, maxNorm / (N + 1e-6)). The norm is reduced on
 * the GPU (one reduction per parameter window and one finishing kernel per step) and read
 * by the fused update kernels; nothing is read back. Put it first in the chain (links
 * before it must be stateless; they are applied before the norm is taken).
 *
 * @module
 */
import type { Link } from "../optimizers/chain.ts";
import type { Plugin } from "../registry.ts";

/** Options of the clipping link. */
export interface ClipOptions {
  /** The largest global norm let through (default 1); hyper-parameter "maxNorm". */
  maxNorm?: number;
}

/** The clip-by-global-norm link. */
export function clipGradNorm(o: ClipOptions = {}): Link {
  return {
    name: "clip_grad_norm",
    hyper: { maxNorm: o.maxNorm ?? 1 },
    init: {},
    globalNorm: true,
    scalars: ({ h }) => ({ mx: h.maxNorm }),
    update: (v) => `    g = g * min(1.0, ${v.s("mx")} / (${v.norm} + 1e-6));`,
  };
}

/** Plugin "clip_grad_norm" (kind regularizer): options `{ maxNorm = 1 }`. */
export const clipPlugin: Plugin<ClipOptions, Link> = {
  kind: "regularizer",
  name: "clip_grad_norm",
  description: "gradient clipping by global norm",
  create: (o) => clipGradNorm(o),
};
