/**
 * The optimizer plugins. Importing this module registers them (and the gradient-side
 * regularizers they can chain) with the plugin registry: "sgd", "momentum", "nesterov",
 * "adam", "adamw", "adagrad", "rmsprop". Each `create({ params, lr?, regularizers?, … })`
 * returns an `Optimizer`.
 *
 * @example
 * import "./plugins/optimizers/index.ts";
 * const opt = create<Optimizer>("optimizer", "adam", { params: model.parameters(), lr: 1e-3 });
 *
 * @module
 */
import "../regularizers/index.ts";
import { register } from "../registry.ts";
import { adagradPlugin } from "./adagrad.ts";
import { adamPlugin } from "./adam.ts";
import { adamwPlugin } from "./adamw.ts";
import { momentumPlugin } from "./momentum.ts";
import { nesterovPlugin } from "./nesterov.ts";
import { rmspropPlugin } from "./rmsprop.ts";
import { sgdPlugin } from "./sgd.ts";

export {
  chain,
  type Link,
  type LinkVars,
  Optimizer,
  type OptimizerOptions,
  type OptimizerState,
  type ParamGroup,
  type ParamList,
  type ScalarContext,
} from "./chain.ts";
export {
  optimizerPlugin,
  type OptimizerPluginOptions,
  type RegularizerSpec,
  resolveRegularizers,
} from "./plugin.ts";
export { sgd } from "./sgd.ts";
export { momentum, type MomentumOptions } from "./momentum.ts";
export { nesterov } from "./nesterov.ts";
export { adam, type AdamOptions } from "./adam.ts";
export { adamw, type AdamWOptions } from "./adamw.ts";
export { adagrad, type AdagradOptions } from "./adagrad.ts";
export { rmsprop, type RmspropOptions } from "./rmsprop.ts";

register(sgdPlugin);
register(momentumPlugin);
register(nesterovPlugin);
register(adamPlugin);
register(adamwPlugin);
register(adagradPlugin);
register(rmspropPlugin);
