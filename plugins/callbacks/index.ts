/**
 * The training-callback plugins: objects `fit` consults at each epoch's end. Importing this
 * module registers them with kind "callback": "early_stopping" (stops when a monitored
 * metric stops improving, keeping the best weights).
 *
 * @example
 * import "./plugins/callbacks/index.ts";
 * const stop = create<EarlyStopping>("callback", "early_stopping", { monitor: "TestLoss" });
 *
 * @module
 */
import { register } from "../registry.ts";
import { earlyStoppingPlugin } from "./early_stopping.ts";

export {
  EarlyStopping,
  type EarlyStoppingOptions,
  earlyStoppingPlugin,
  type EarlyStoppingState,
} from "./early_stopping.ts";

register(earlyStoppingPlugin);
