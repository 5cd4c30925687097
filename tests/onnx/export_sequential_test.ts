/**
 * Export of the pipelines' own networks (models/nets.ts): the Fashion-MNIST CNN and the
 * custom scene CNN (Conv2d, BatchNorm2d/1d, ReLU, Average/MaxPool2d, Flatten, Linear,
 * Dropout, LogSoftmax) — with batch norm in eval mode on non-trivial running statistics —
 * written with `exportOnnx`, give the engine's eval-mode outputs when the file is read
 * back by our importer and when ONNX Runtime (native CPU) runs it; the class names are in
 * the metadata, and the file's initializers are the network's state dict.
 */
import { assert, assertEquals } from "../assert.ts";
import { noGrad } from "../../core/autograd.ts";
import { initGpu } from "../../core/gpu.ts";
import type { Module } from "../../core/nn/module.ts";
import { Rng } from "../../core/random.ts";
import { fromArray, tidy } from "../../core/tensor.ts";
import { exportOnnx } from "../../onnx/export.ts";
import { importOnnx } from "../../onnx/import.ts";
import { ortSession } from "../../onnx/ort.ts";
import { readOnnxFile } from "../../onnx/read.ts";
import { fashionCnn, sceneCnn } from "../../models/nets.ts";
import { tempDir } from "../_temp.ts";

function uniform(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  const r = new Rng(seed);
  return Float32Array.from({ length: n }, () => r.uniform(lo, hi));
}

async function forward(m: Module, x: Float32Array, shape: number[]): Promise<Float32Array> {
  const y = noGrad(() => tidy(() => m.forward(fromArray(x, shape))));
  try {
    return await y.data();
  } finally {
    y.dispose();
  }
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  assertEquals(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/**
 * Gives `net` non-trivial running statistics (training-mode passes on shifted, scaled
 * inputs) and a sharp last layer, then exports it and compares the file's outputs with
 * the engine's eval mode.
 */
async function check(net: Module, shape: number[], classes: string[], what: string) {
  const n = shape.reduce((p, d) => p * d, 1);
  net.train();
  for (let k = 0; k < 3; k++) {
    tidy(() => noGrad(() => net.forward(fromArray(uniform(n, 10 + k, 0.5, 3), shape))));
  }
  const stats = net.namedBuffers().filter(([name]) => /running_(mean|var)$/.test(name));
  for (const [name, t] of stats) {
    const d = await t.data();
    const trivial = name.endsWith("mean") ? d.every((v) => v === 0) : d.every((v) => v === 1);
    assert(!trivial, `${what}: ${name} still has its initial values`);
  }
  // A sharper last layer (×20) spreads the log-probabilities over several units, so the
  // 1e-4 tolerance is tight compared with them.
  const sd = await net.stateDict();
  const last = Object.keys(sd).filter((k) => k.endsWith(".weight")).at(-1)!;
  sd[last].data = sd[last].data.map((v) => v * 20);
  net.loadStateDict(sd);
  const x = uniform(n, 3);
  const batchStats = await forward(net, x, shape);
  net.eval();
  const ours = await forward(net, x, shape);
  const spread = Math.max(...ours) - Math.min(...ours);
  assert(spread > 1, `${what}: outputs spread over only ${spread}`);
  // Eval mode really uses the running statistics: batch statistics give other outputs.
  if (stats.length) {
    assert(maxAbsDiff(batchStats, ours) > 1e-2, `${what}: running statistics change nothing`);
  }
  const dir = await tempDir("export_sequential_");
  try {
    const file = `${dir}/model.onnx`;
    await exportOnnx(net, file, { inputShape: [1, ...shape.slice(1)], classes });
    const model = await readOnnxFile(file);
    assertEquals(JSON.parse(model.metadata.classes), classes);
    // The initializers are the state dict (num_batches_tracked is not part of inference).
    const own = [...net.namedParameters(), ...net.namedBuffers()]
      .filter(([name]) => !name.endsWith("num_batches_tracked"));
    for (const [name, t] of own) {
      const init = model.graph.initializers.get(name);
      assert(init, `${what}: no initializer ${name}`);
      assertEquals(init.dims, [...t.shape], name);
    }
    const back = importOnnx(model, { file });
    back.eval();
    const again = await forward(back, x, shape);
    back.dispose();
    const e1 = maxAbsDiff(again, ours);
    const ort = await ortSession("ort-node", await Deno.readFile(file));
    const { data: theirs, dims } = await ort.run(x, shape);
    await ort.release();
    assertEquals(dims, [shape[0], classes.length]);
    const e2 = maxAbsDiff(theirs, ours);
    console.log(`${what}: re-imported ${e1.toExponential(2)}, ONNX Runtime ${e2.toExponential(2)}`);
    assert(e1 <= 1e-4, `${what}: re-imported model differs by ${e1}`);
    assert(e2 <= 1e-4, `${what}: ONNX Runtime differs by ${e2}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("export: the Fashion-MNIST CNN round-trips through ONNX", async () => {
  await initGpu();
  const net = fashionCnn(1);
  const classes = ["T-shirt", "Trouser", "Pullover", "Dress", "Coat"]
    .concat(["Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]);
  try {
    await check(net, [4, 1, 28, 28], classes, "fashionCnn");
  } finally {
    net.dispose();
  }
});

Deno.test("export: the scene CNN (batch norm 2-D and 1-D, dropout) round-trips", async () => {
  await initGpu();
  // Its Linear(144, …) fixes the input at 150×150.
  const net = sceneCnn(6, 1);
  const classes = ["buildings", "forest", "glacier", "mountain", "sea", "street"];
  try {
    await check(net, [3, 3, 150, 150], classes, "sceneCnn");
  } finally {
    net.dispose();
  }
});
