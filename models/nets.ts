/**
 * The networks of the pipelines, built in code (no data dependencies, so benchmarks and
 * tests import them alone): the Fashion-MNIST CNN and the custom scene CNN, and the export
 * of a trained one as its run's model.onnx. Each builder takes a pooling factory (a
 * pooling plugin chosen by name, `--pooling`): it is given the window the network uses
 * there, and the layers after it are sized by what the pool gives.
 */
import { Flatten, LogSoftmax, ReLU } from "../core/nn/activation.ts";
import { BatchNorm1d, BatchNorm2d } from "../core/nn/batchnorm.ts";
import { Conv2d } from "../core/nn/conv.ts";
import { Dropout } from "../core/nn/dropout.ts";
import { Linear } from "../core/nn/linear.ts";
import type { Module } from "../core/nn/module.ts";
import { noGrad } from "../core/autograd.ts";
import { tidy, zeros } from "../core/tensor.ts";
import { Sequential } from "../core/nn/sequential.ts";
import { Rng } from "../core/random.ts";
import { AvgPool2d } from "../plugins/pooling/average.ts";
import { MaxPool2d } from "../plugins/pooling/max.ts";
import { join } from "node:path";
import { exportOnnx } from "../onnx/export.ts";

/** The window a network uses at a pooling slot (a pooling plugin's options start from it). */
export interface PoolWindow {
  /** Window size. */
  kernel: number;
  /** Step between windows (default: the kernel size). */
  stride?: number;
}

/** Makes a network's pooling layer from the window the network uses there. */
export type PoolFactory = (window: PoolWindow) => Module;

/**
 * The shape `[C, H, W]` a pooling layer gives for an input of `shape` (found by running it
 * once on zeros, without gradients, so any pooling plugin works).
 */
export function poolOutput(pool: Module, shape: readonly number[]): number[] {
  return noGrad(() => tidy(() => pool.forward(zeros([1, ...shape])).shape.slice(1)));
}

/** The CNN of the Fashion-MNIST benchmark, initialised from `seed`. */
export function fashionCnn(
  seed = 0,
  pool: PoolFactory = (w) => new MaxPool2d(w),
): Sequential {
  const rng = new Rng(seed);
  const p1 = pool({ kernel: 2 });
  const s1 = poolOutput(p1, [16, 28, 28]);
  const p2 = pool({ kernel: 2 });
  const [c, h, w] = poolOutput(p2, [32, s1[1], s1[2]]);
  return new Sequential(
    new Conv2d(1, 16, 3, { padding: 1, rng }),
    new ReLU(),
    p1,
    new Conv2d(s1[0], 32, 3, { padding: 1, rng }),
    new ReLU(),
    p2,
    new Flatten(),
    new Linear(c * h * w, 128, { rng }),
    new ReLU(),
    new Linear(128, 10, { rng }),
    new LogSoftmax(),
  );
}

/** The custom scene CNN for `classes` outputs, initialised from `seed`. */
export function sceneCnn(
  classes = 6,
  seed = 0,
  dropout = 0.5,
  pool: PoolFactory = (w) => new AvgPool2d(w),
): Sequential {
  const rng = new Rng(seed);
  let shape = [3, 150, 150];
  const block = (o: number) => {
    const conv = new Conv2d(shape[0], o, 5, { rng });
    const p = pool({ kernel: 3, stride: 3 });
    shape = poolOutput(p, [o, shape[1] - 4, shape[2] - 4]);
    return [conv, new BatchNorm2d(o), new ReLU(), p];
  };
  const features = [...block(64), ...block(32), ...block(16)];
  return new Sequential(
    ...features,
    new Flatten(),
    new Linear(shape[0] * shape[1] * shape[2], 4000, { rng }),
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
