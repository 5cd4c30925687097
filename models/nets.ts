/**
 * The networks of the pipelines, built in code (no data dependencies, so benchmarks and
 * tests import them alone): the Fashion-MNIST CNN and the custom scene CNN, and the export
 * of a trained one as its run's model.onnx.
 */
import { Flatten, LogSoftmax, ReLU } from "../core/nn/activation.ts";
import { BatchNorm1d, BatchNorm2d } from "../core/nn/batchnorm.ts";
import { Conv2d } from "../core/nn/conv.ts";
import { Dropout } from "../core/nn/dropout.ts";
import { Linear } from "../core/nn/linear.ts";
import type { Module } from "../core/nn/module.ts";
import { Sequential } from "../core/nn/sequential.ts";
import { Rng } from "../core/random.ts";
import { AvgPool2d } from "../plugins/pooling/average.ts";
import { MaxPool2d } from "../plugins/pooling/max.ts";
import { join } from "node:path";
import { exportOnnx } from "../onnx/export.ts";

/** The CNN of the Fashion-MNIST benchmark, initialised from `seed`. */
export function fashionCnn(seed = 0): Sequential {
  const rng = new Rng(seed);
  return new Sequential(
    new Conv2d(1, 16, 3, { padding: 1, rng }),
    new ReLU(),
    new MaxPool2d({ kernel: 2 }),
    new Conv2d(16, 32, 3, { padding: 1, rng }),
    new ReLU(),
    new MaxPool2d({ kernel: 2 }),
    new Flatten(),
    new Linear(1568, 128, { rng }),
    new ReLU(),
    new Linear(128, 10, { rng }),
    new LogSoftmax(),
  );
}

/** The custom scene CNN for `classes` outputs, initialised from `seed`. */
export function sceneCnn(classes = 6, seed = 0, dropout = 0.5): Sequential {
  const rng = new Rng(seed);
  const block = (i: number, o: number) => [
    new Conv2d(i, o, 5, { rng }),
    new BatchNorm2d(o),
    new ReLU(),
    new AvgPool2d({ kernel: 3, stride: 3 }),
  ];
  return new Sequential(
    ...block(3, 64),
    ...block(64, 32),
    ...block(32, 16),
    new Flatten(),
    new Linear(144, 4000, { rng }),
    new BatchNorm1d(4000),
    new ReLU(),
    new Dropout(dropout, { seed: seed + 1 }),
    new Linear(4000, 4000, { rng }),
    new BatchNorm1d(4000),
    new ReLU(),
    new Dropout(dropout, { seed: seed + 2 }),
    new Linear(4000, 1000, { rng }),
    new BatchNorm1d(1000),
    new ReLU(),
    new Linear(1000, classes, { rng }),
    new LogSoftmax(),
  );
}

/**
 * Exports a trained network as the run's `model.onnx` (eval mode, class names and any other
 * `metadata` such as predict's `normalize` in it), so `deno task predict <run folder>` works
 * for every pipeline.
 */
export async function exportRunModel(
  model: Module,
  runDir: string,
  inputShape: number[],
  classes: string[],
  metadata?: Record<string, string>,
): Promise<void> {
  const file = join(runDir, "model.onnx");
  await exportOnnx(model, file, { inputShape, classes, metadata });
  console.log(`exported ${file}`);
}
