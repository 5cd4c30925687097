/**
 * Child process of ort_test.ts: one ONNX Runtime (native) session on a small exported
 * model, run once; prints the output as JSON.
 */
import { initGpu } from "../../core/gpu.ts";
import { Linear } from "../../core/nn/linear.ts";
import { Rng } from "../../core/random.ts";
import { exportOnnxBytes } from "../../onnx/export.ts";
import { ortSession } from "../../onnx/ort.ts";

await initGpu();
const net = new Linear(3, 2, { rng: new Rng(1) });
const bytes = await exportOnnxBytes(net, { inputShape: [1, 3] });
const s = await ortSession("ort-node", bytes);
const y = await s.run(Float32Array.of(1, 2, 3), [1, 3]);
await s.release();
console.log(JSON.stringify([...y.data]));
