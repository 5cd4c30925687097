/**
 * The layer plugins: layers a network builder places in a network. Importing this module
 * registers them with kind "layer": "dropout" (a Dropout layer) and "batchnorm" (a factory
 * of batch-norm layers, one per feature count).
 *
 * @example
 * import "./plugins/layers/index.ts";
 * const drop = create<Dropout>("layer", "dropout", { p: 0.5, seed: 1 });
 * const bn = create<BatchNormFactory>("layer", "batchnorm", { dims: 2 });
 *
 * @module
 */
import { register } from "../registry.ts";
import { batchNormPlugin } from "./batchnorm.ts";
import { dropoutPlugin } from "./dropout.ts";

export {
  type BatchNormFactory,
  batchNormPlugin,
  type BatchNormRegularizerOptions,
} from "./batchnorm.ts";
export { dropoutPlugin, type DropoutRegularizerOptions } from "./dropout.ts";

register(dropoutPlugin);
register(batchNormPlugin);
