/**
 * The "dropout" layer plugin (a regularizer placed in the network): `create({ p, seed })` gives a `Dropout` layer (p = 0.5 by
 * default) to place in a network; it masks in training mode and is the identity in eval.
 */
import { Dropout } from "../../core/nn/dropout.ts";
import type { Plugin } from "../registry.ts";
import { checkOptions } from "../options.ts";

/** Options of the dropout layer plugin. */
export interface DropoutRegularizerOptions {
  /** Probability of zeroing an element (default 0.5). */
  p?: number;
  /** Seed of the layer's mask generator (default 0). */
  seed?: number;
}

/**
 * @example
 * const drop = create<Dropout>("layer", "dropout", { p: 0.3, seed: 1 });
 */
export const dropoutPlugin: Plugin<DropoutRegularizerOptions, Dropout> = {
  kind: "layer",
  name: "dropout",
  description: "Dropout layer: zeroes activations with probability p in training (seeded)",
  create(options: DropoutRegularizerOptions = {}): Dropout {
    checkOptions("dropout", options, ["p", "seed"]);
    return new Dropout(options.p ?? 0.5, { seed: options.seed ?? 0 });
  },
};
