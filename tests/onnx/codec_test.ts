/**
 * The codec registry: `SUPPORTED_OPS` is its op types (every operator import accepted
 * before, plus LpPool and Slice), each built-in layer class has a codec for export, the
 * ONNX chains run through Sequential's chain runner (one fusion rule set), the Gemm
 * codec's fusion rule fuses GemmLayer → ReLU, and the Lp pooling plugin's new codec
 * round-trips through ONNX Runtime.
 */
import { assert, assertEquals } from "../assert.ts";
import { noGrad } from "../../core/autograd.ts";
import { initGpu } from "../../core/gpu.ts";
import {
  Atan,
  Flatten,
  LogSoftmax,
  ReLU,
  Sigmoid,
  Softmax,
  Tanh,
} from "../../core/nn/activation.ts";
import { BatchNorm } from "../../core/nn/batchnorm.ts";
import { Conv2d } from "../../core/nn/conv.ts";
import { Dropout } from "../../core/nn/dropout.ts";
import { Linear } from "../../core/nn/linear.ts";
import type { Module } from "../../core/nn/module.ts";
import { fuseNext, runChain, Sequential } from "../../core/nn/sequential.ts";
import { fromArray, tidy } from "../../core/tensor.ts";
import { codecForModule, supportedOps } from "../../onnx/codec.ts";
import { exportOnnxBytes } from "../../onnx/export.ts";
import { runChain as onnxRunChain } from "../../onnx/graph_module.ts";
import { importOnnx, SUPPORTED_OPS } from "../../onnx/import.ts";
import { GemmLayer, IdentityLayer, MatMulLayer, SoftmaxLayer } from "../../onnx/layers.ts";
import { ortSession } from "../../onnx/ort.ts";
import { readOnnx } from "../../onnx/read.ts";
import {
  AdaptiveAvgPool2d,
  AvgPool2d,
  GlobalAvgPool2d,
  GlobalMaxPool2d,
  LpPool2d,
  MaxPool2d,
} from "../../plugins/pooling/index.ts";

/** What import accepted before the registry (the old hand-written list). */
// deno-fmt-ignore
const BEFORE = [
  "Add", "AveragePool", "BatchNormalization", "Cast", "Concat", "Constant", "Conv", "Div",
  "Dropout", "Flatten", "Gather", "Gemm", "GlobalAveragePool", "GlobalMaxPool", "Identity",
  "LogSoftmax", "MatMul", "MaxPool", "Mul", "Relu", "Reshape", "Resize", "Shape", "Sigmoid",
  "Softmax", "Squeeze", "Sub", "Tanh", "Transpose", "Unsqueeze", "Upsample",
];

Deno.test("codecs: SUPPORTED_OPS is the registry's op types", () => {
  assertEquals([...SUPPORTED_OPS], supportedOps());
  assertEquals([...SUPPORTED_OPS].sort(), [...BEFORE, "LpPool", "Slice"].sort());
});

Deno.test("codecs: every built-in layer has an export codec; chains share one runner", async () => {
  await initGpu();
  // deno-fmt-ignore
  const layers: Module[] = [
    new Conv2d(1, 1, 1), new Linear(1, 1), new BatchNorm(1), new ReLU(), new Sigmoid(),
    new Tanh(), new Atan(), new Softmax(), new LogSoftmax(), new Flatten(), new Dropout(0.5),
    new MaxPool2d({ kernel: 2 }), new AvgPool2d({ kernel: 2 }), new LpPool2d({ kernel: 2 }),
    new GlobalAvgPool2d(), new GlobalMaxPool2d(), new AdaptiveAvgPool2d({ output: 2 }),
    new GemmLayer(new Float32Array(1), 1, 1, null), new MatMulLayer(), new IdentityLayer(),
    new SoftmaxLayer(1, false, false),
  ];
  const missing = layers.filter((m) => !codecForModule(m)).map((m) => m.constructor.name);
  assertEquals(missing, []);
  assertEquals(codecForModule(new Sequential()), undefined);
  assert(onnxRunChain === runChain, "imported chains run through Sequential's runChain");
  const gemm = new GemmLayer(Float32Array.from([1, -1]), 1, 2, null);
  tidy(() => {
    const y = fuseNext(gemm, new ReLU(), fromArray([3, 1], [1, 2]));
    assert(y, "GemmLayer → ReLU fuses through the linear codec's rule");
  });
  for (const m of [...layers, gemm]) m.dispose();
});

Deno.test("codecs: LpPool (the lp pooling plugin's codec) round-trips through ONNX Runtime", async () => {
  await initGpu();
  const net = new Sequential(
    new Conv2d(2, 3, 3, { seed: 2 }),
    new LpPool2d({ kernel: 3, stride: 2, padding: 1, p: 3 }),
    new Flatten(),
  );
  const shape = [2, 2, 9, 8];
  const x = Float32Array.from({ length: 2 * 2 * 9 * 8 }, (_, i) => Math.sin(i / 3));
  const run = async (m: Module) => {
    m.eval();
    const y = noGrad(() => tidy(() => m.forward(fromArray(x, shape))));
    const d = await y.data();
    y.dispose();
    return d;
  };
  const ours = await run(net);
  const bytes = await exportOnnxBytes(net, { inputShape: shape });
  const s = await ortSession("ort-node", bytes);
  const theirs = (await s.run(x, shape)).data;
  await s.release();
  const back = importOnnx(readOnnx(bytes));
  assert(back.steps.some((st) => st.module instanceof LpPool2d), "imported as LpPool2d");
  const again = await run(back);
  const worst = (a: Float32Array) => Math.max(...a.map((v, i) => Math.abs(v - ours[i])));
  assert(worst(theirs) <= 1e-4, `ONNX Runtime differs by ${worst(theirs)}`);
  assert(worst(again) <= 1e-6, `re-imported differs by ${worst(again)}`);
  back.dispose();
  net.dispose();
});
