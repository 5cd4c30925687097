/**
 * Dropout layer: in training mode each call zeroes elements with probability p (a fresh
 * mask from its seeded generator, drawn on the GPU) and scales the rest by 1/(1 − p); in
 * eval mode it is the identity. The generator's state (`rngState()`, the four words of the
 * project's `Rng`) is what a checkpoint saves so a resumed run continues the same masks.
 */
import { dropout, DropoutGenerator } from "../ops/dropout.ts";
import type { Tensor } from "../tensor.ts";
import { Module } from "./module.ts";

/** Options of `Dropout`. */
export interface DropoutOptions {
  /** Seed of the mask generator (default 0; the masks follow its "dropout" stream). */
  seed?: number;
  /** A generator to draw from (shared between layers, or restored); overrides `seed`. */
  generator?: DropoutGenerator;
}

/**
 * Dropout with probability `p` (default 0.5, as PyTorch).
 *
 * @example
 * const drop = new Dropout(0.5, { seed: 7 });
 * const y = drop.forward(x); // training: masked and scaled; after drop.eval(): y === x
 */
export class Dropout extends Module {
  /** The generator that draws the masks (registered as the generator `mask`). */
  readonly masks: DropoutGenerator;

  /** `p`: the drop probability (default 0.5); throws unless in [0, 1]. */
  constructor(readonly p = 0.5, opts: DropoutOptions = {}) {
    super();
    if (!(p >= 0 && p <= 1)) throw new Error(`Dropout: p must be in [0, 1], got ${p}`);
    const g = this.masks = opts.generator ?? new DropoutGenerator(opts.seed ?? 0);
    this.generator("mask", { rngState: () => g.state(), setRngState: (s) => g.setState(s) });
  }

  /** Training: `x` masked and scaled by 1/(1 − p), one fresh mask per call; eval: `x` itself. */
  forward(x: Tensor): Tensor {
    return this.training ? dropout(x, this.p, this.masks) : x;
  }

  /** The mask generator's state, for checkpoints. */
  rngState(): number[] {
    return this.masks.state();
  }

  /** Restores the mask generator's state from `rngState()`. */
  setRngState(s: readonly number[]): void {
    this.masks.setState(s);
  }

  /** Releases the module and the mask generator's GPU copy of its state (a shared one included). */
  override dispose(): void {
    super.dispose();
    this.masks.dispose();
  }
}
