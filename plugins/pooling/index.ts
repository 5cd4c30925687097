/**
 * The pooling plugins. Importing this module registers them all with the plugin registry
 * (the op files themselves register no plugin, so tests and networks can import them freely):
 * "maxpool", "avgpool", "l2pool", "lppool", "globalavgpool", "globalmaxpool",
 * "adaptiveavgpool". Each creates a Module usable in Sequential. Each op file also holds its
 * layer's ONNX codec (MaxPool, AveragePool, LpPool, GlobalAveragePool, GlobalMaxPool; the
 * adaptive pool exports only), registered with onnx/codec.ts when the file is imported, so
 * any pooling layer that exists can be exported; onnx/codecs/index.ts imports this module
 * so that ONNX import knows them all.
 *
 * @example
 * import "./plugins/pooling/index.ts";
 * const pool = create<Module>("pooling", "maxpool", { kernel: 2 });
 *
 * @module
 */
import { register } from "../registry.ts";
import { adaptiveAvgPoolPlugin } from "./adaptive.ts";
import { avgPoolPlugin } from "./average.ts";
import { globalAvgPoolPlugin, globalMaxPoolPlugin } from "./global.ts";
import { l2PoolPlugin, lpPoolPlugin } from "./lp.ts";
import { maxPoolPlugin } from "./max.ts";

export { AdaptiveAvgPool2d, adaptiveAvgPool2d, type AdaptiveAvgPoolOptions } from "./adaptive.ts";
export { AvgPool2d, avgPool2d, type AvgPoolOptions } from "./average.ts";
export { GlobalAvgPool2d, globalAvgPool2d, GlobalMaxPool2d, globalMaxPool2d } from "./global.ts";
export { LpPool2d, lpPool2d, type LpPoolOptions } from "./lp.ts";
export { MaxPool2d, maxPool2d, type MaxPoolOptions } from "./max.ts";
export type { Pair, PoolPadding, WindowOptions } from "./window.ts";

register(maxPoolPlugin);
register(avgPoolPlugin);
register(l2PoolPlugin);
register(lpPoolPlugin);
register(globalAvgPoolPlugin);
register(globalMaxPoolPlugin);
register(adaptiveAvgPoolPlugin);
