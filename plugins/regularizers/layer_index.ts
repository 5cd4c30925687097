/**
 * The layer-side regularizer plugins. Importing this module registers them with kind
 * "regularizer": "dropout" (a Dropout layer), "batchnorm" (a factory of batch-norm layers
 * per feature count) and "early_stopping" (an epoch-level monitor that keeps the best
 * weights).
 *
 * @example
 * import "./plugins/regularizers/layer_index.ts";
 * const drop = create<Dropout>("regularizer", "dropout", { p: 0.5, seed: 1 });
 * const bn = create<BatchNormFactory>("regularizer", "batchnorm", { dims: 2 });
 * const stop = create<EarlyStopping>("regularizer", "early_stopping", { monitor: "val_loss" });
 *
 * @module
 */
import { type Plugin, register } from "../registry.ts";
import { batchNormPlugin } from "./batchnorm.ts";
import { dropoutPlugin } from "./dropout.ts";
import { earlyStoppingPlugin } from "./early_stopping.ts";

export {
  type BatchNormFactory,
  batchNormPlugin,
  type BatchNormRegularizerOptions,
} from "./batchnorm.ts";
export { dropoutPlugin, type DropoutRegularizerOptions } from "./dropout.ts";
export {
  EarlyStopping,
  type EarlyStoppingOptions,
  earlyStoppingPlugin,
  type EarlyStoppingState,
} from "./early_stopping.ts";

/** Every regularizer plugin this module registers. */
export const layerRegularizerPlugins: readonly Plugin<never, unknown>[] = [
  dropoutPlugin,
  batchNormPlugin,
  earlyStoppingPlugin,
] as Plugin<never, unknown>[];

for (const p of layerRegularizerPlugins) register(p);
