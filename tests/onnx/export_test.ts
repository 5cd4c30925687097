/**
 * Export: a model the engine trained or built, written as ONNX and run by ONNX Runtime,
 * gives the engine's predictions (same argmax, logits within 1e-4 relative error). Covers
 * an imported VGG backbone with a new head (flatten and torchvision heads: the latter
 * writes the 4×4 → 7×7 adaptive pool as a MatMul) and a network built in code; the file
 * also reads back through our own importer.
 */
import { assert, assertEquals } from "../assert.ts";
import { noGrad } from "../../core/autograd.ts";
import { initGpu } from "../../core/gpu.ts";
import { Flatten, LogSoftmax, ReLU } from "../../core/nn/activation.ts";
import { BatchNorm2d } from "../../core/nn/batchnorm.ts";
import { Conv2d } from "../../core/nn/conv.ts";
import { Dropout } from "../../core/nn/dropout.ts";
import { Linear } from "../../core/nn/linear.ts";
import type { Module } from "../../core/nn/module.ts";
import { Sequential } from "../../core/nn/sequential.ts";
import { Rng } from "../../core/random.ts";
import { fromArray, tidy } from "../../core/tensor.ts";
import { AdaptiveAvgPool2d, AvgPool2d, MaxPool2d } from "../../plugins/pooling/index.ts";
import { exportOnnxBytes } from "../../onnx/export.ts";
import { relativeError } from "../../training/features.ts";
import { importOnnx, importOnnxFile } from "../../onnx/import.ts";
import { ortSession } from "../../onnx/ort.ts";
import { readOnnx } from "../../onnx/read.ts";
import { transferModel } from "../../models/transfer.ts";

const VGG = new URL("../../fixtures/onnx/vgg/", import.meta.url).pathname;

function randn(n: number, seed: number): Float32Array {
  const r = new Rng(seed);
  return Float32Array.from({ length: n }, () => r.uniform(-2, 2));
}

function argmax(a: Float32Array, classes: number): number[] {
  const out = [];
  for (let i = 0; i < a.length / classes; i++) {
    let best = 0;
    for (let c = 1; c < classes; c++) if (a[i * classes + c] > a[i * classes + best]) best = c;
    out.push(best);
  }
  return out;
}

async function engine(m: Module, x: Float32Array, shape: number[]): Promise<Float32Array> {
  m.eval();
  const y = noGrad(() => tidy(() => m.forward(fromArray(x, shape))));
  const d = await y.data();
  y.dispose();
  return d;
}

/** Exports `m`, runs the file on ONNX Runtime (native CPU) and on our importer; compares. */
async function check(m: Module, shape: number[], classes: number, what: string): Promise<void> {
  const x = randn(shape.reduce((p, d) => p * d, 1), 3);
  const ours = await engine(m, x, shape);
  const bytes = await exportOnnxBytes(m, { inputShape: shape, classes: ["a", "b"] });
  const ort = await ortSession("ort-node", bytes);
  const { data: theirs, dims } = await ort.run(x, shape);
  await ort.release();
  assertEquals(dims, [shape[0], classes]);
  const e = relativeError(theirs, ours);
  console.log(`${what}: ${bytes.length} bytes, ORT vs engine rel. error ${e.toExponential(2)}`);
  assert(e <= 1e-4, `${what}: ORT differs from the engine by ${e}`);
  assertEquals(argmax(theirs, classes), argmax(ours, classes));
  const model = readOnnx(bytes);
  assertEquals(model.metadata.classes, '["a","b"]');
  const back = importOnnx(model);
  const again = await engine(back, x, shape);
  back.dispose();
  const e2 = relativeError(again, ours);
  assert(e2 <= 1e-5, `${what}: re-imported differs by ${e2}`);
}

Deno.test("export: imported VGG backbone + new flatten head runs in ONNX Runtime", async () => {
  await initGpu();
  const model = transferModel(await importOnnxFile(`${VGG}zoo.onnx`), { classes: 6, hidden: [16] });
  await check(model, [3, 3, 150, 150], 6, "zoo + flatten head");
  model.dispose();
});

Deno.test("export: torchvision head (adaptive 4×4 → 7×7 as MatMul) runs in ONNX Runtime", async () => {
  await initGpu();
  const model = transferModel(await importOnnxFile(`${VGG}torchvision.onnx`), {
    classes: 6,
    head: "torchvision",
  });
  await check(model, [2, 3, 150, 150], 6, "torchvision head");
  model.dispose();
});

Deno.test("export: a network built in code runs in ONNX Runtime", async () => {
  await initGpu();
  const bn = new BatchNorm2d(8);
  const net = new Sequential(
    new Conv2d(3, 8, 3, { padding: 1, seed: 1 }),
    bn,
    new ReLU(),
    new MaxPool2d({ kernel: 2 }),
    new Conv2d(8, 16, 3, { stride: 2, padding: "same", seed: 2 }),
    new ReLU(),
    new AvgPool2d({ kernel: 3, stride: 1, padding: 1, countIncludePad: false }),
    new AdaptiveAvgPool2d({ output: 3 }),
    new Flatten(),
    new Linear(144, 32, { seed: 3 }),
    new ReLU(),
    new Dropout(0.3),
    new Linear(32, 5, { seed: 4 }),
    new LogSoftmax(),
  );
  // Non-trivial running statistics: one training-mode pass.
  net.train();
  tidy(() => noGrad(() => net.forward(fromArray(randn(4 * 3 * 32 * 32, 9), [4, 3, 32, 32]))));
  await check(net, [4, 3, 32, 32], 5, "code-built CNN");
  net.dispose();
});
