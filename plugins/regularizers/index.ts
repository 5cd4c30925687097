/**
 * The gradient-side regularizer plugins (optimizer links). Importing this module registers
 * them with kind "regularizer": "l2", "weight_decay", "l1", "clip_grad_norm". Each
 * `create(options)` returns a `Link` to put before an optimizer's link, or to name in an
 * optimizer plugin's `regularizers` option.
 *
 * @example
 * import "./plugins/regularizers/index.ts";
 * const link = create<Link>("regularizer", "l2", { lambda: 5e-4, n: 14034 });
 *
 * @module
 */
import { register } from "../registry.ts";
import { clipPlugin } from "./clip.ts";
import { l1Plugin } from "./l1.ts";
import { l2Plugin } from "./l2.ts";
import { weightDecayPlugin } from "./weight_decay.ts";

export { clipGradNorm, type ClipOptions } from "./clip.ts";
export { l1, type L1Options } from "./l1.ts";
export { l2, type L2Options } from "./l2.ts";
export { weightDecay, type WeightDecayOptions } from "./weight_decay.ts";

register(l2Plugin);
register(weightDecayPlugin);
register(l1Plugin);
register(clipPlugin);
