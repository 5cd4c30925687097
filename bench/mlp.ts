/**
 * Training throughput of the MLP on random 28×28 input, batch 64:
 * Flatten → Linear(784,256) → ReLU → Linear(256,10) → LogSoftmax, NLL loss, SGD.
 * The engine's figure, and TensorFlow.js's WebGPU backend on the same adapter in a child
 * process of the same run, with the ratio.
 */
import { backward } from "../core/autograd.ts";
import { gpu, initGpu } from "../core/gpu.ts";
import { Flatten, LogSoftmax, ReLU } from "../core/nn/activation.ts";
import { Linear } from "../core/nn/linear.ts";
import { Sequential } from "../core/nn/sequential.ts";
import { SGD } from "../plugins/optimizers/sgd.ts";
import { nll } from "../core/ops/loss.ts";
import { Rng } from "../core/random.ts";
import { fromArray, tidy } from "../core/tensor.ts";
import { flags, median, peer } from "./util.ts";

/** Images per second of the engine training the MLP (median of `reps` timed runs). */
export async function engineMlpImagesPerSec(steps = 60, reps = 3): Promise<number> {
  await initGpu();
  const B = 64, rng = new Rng(0);
  const model = new Sequential(
    new Flatten(),
    new Linear(784, 256, { rng }),
    new ReLU(),
    new Linear(256, 10, { rng }),
    new LogSoftmax(),
  );
  const opt = new SGD(model.parameters(), 0.01);
  const xs = Array.from(
    { length: 4 },
    () => Float32Array.from({ length: B * 784 }, () => rng.next()),
  );
  const ys = Array.from({ length: 4 }, () => Float32Array.from({ length: B }, () => rng.int(10)));
  const step = (i: number) =>
    tidy(() => {
      const l = nll(model.forward(fromArray(xs[i % 4], [B, 1, 28, 28])), fromArray(ys[i % 4], [B]));
      backward(l);
      opt.step();
      opt.zeroGrad();
    });
  for (let i = 0; i < 10; i++) step(i);
  await gpu().sync();
  const rates = [];
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    for (let i = 0; i < steps; i++) step(i);
    await gpu().sync();
    rates.push((B * steps) / ((performance.now() - t0) / 1000));
  }
  model.dispose();
  return median(rates);
}

/** Prints the MLP benchmark beside TensorFlow.js. */
export async function benchMlp(): Promise<Record<string, unknown>> {
  const ours = await engineMlpImagesPerSec(flags.quick ? 5 : 60, flags.quick ? 1 : 3);
  const tfjs = flags.tfjs && !flags.quick ? await peer("bench/peers/tfjs.ts", ["mlp"]) : null;
  console.log(`MLP 784-256-10 train, batch 64 (${gpu().info.description})`);
  console.log(
    `  engine          ${ours.toFixed(0).padStart(7)} images/s   (goal ≥ 3000 on lavapipe)`,
  );
  if (tfjs === null) console.log("  tfjs-webgpu     unavailable");
  else {
    console.log(`  tfjs-webgpu     ${tfjs.toFixed(0).padStart(7)} images/s`);
    console.log(`  ratio           ${(ours / tfjs).toFixed(1).padStart(7)}×  (goal ≥ 10×)`);
  }
  return { bench: "mlp", imagesPerSec: ours, tfjs, ratioTfjs: tfjs ? ours / tfjs : null };
}

if (import.meta.main) await benchMlp();
