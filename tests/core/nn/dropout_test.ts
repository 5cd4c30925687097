import { assert, assertEquals, assertRejects } from "../../assert.ts";
import { backward } from "../../../core/autograd.ts";
import { gpu, initGpu } from "../../../core/gpu.ts";
import { setSubmitPolicy } from "../../../core/gpu_submit.ts";
import { mean } from "../../../core/ops/reduce.ts";
import { relu } from "../../../core/ops/elementwise.ts";
import { BatchNorm1d } from "../../../core/nn/batchnorm.ts";
import { Dropout } from "../../../core/nn/dropout.ts";
import { Linear } from "../../../core/nn/linear.ts";
import { Sequential } from "../../../core/nn/sequential.ts";
import { deriveSeed, Rng } from "../../../core/random.ts";
import { fromArray, tidy } from "../../../core/tensor.ts";

Deno.test("Dropout: training masks and scales, eval is the identity, train()/eval() toggle it", async () => {
  await initGpu();
  const d = new Dropout(0.5, { seed: 3 });
  const x = fromArray(new Float32Array(1000).fill(1));
  const y = await d.forward(x).data();
  assert(y.every((v) => v === 0 || v === 2), "values are 0 or 1/(1 − p)");
  const kept = y.filter((v) => v !== 0).length;
  assert(kept > 430 && kept < 570, `kept ${kept} of 1000`);
  d.eval();
  assert(d.forward(x) === x, "eval: identity");
  d.train();
  const y2 = await d.forward(x).data();
  assert(y2.some((v, i) => v !== y[i]), "a fresh mask per call");
  const want = new Rng(deriveSeed(3, "dropout"));
  want.nextU32();
  want.nextU32();
  assertEquals(d.rngState(), want.state());
  assertEquals(new Dropout().p, 0.5);
  await assertRejects(() => new Dropout(-0.1), /p must be in \[0, 1\]/);
  x.dispose();
  d.dispose();
});

Deno.test("Dropout: a resumed run (rngState restored) draws the same masks as an uninterrupted one", async () => {
  await initGpu();
  const x = fromArray(Float32Array.from({ length: 512 }, (_, i) => i));
  const a = new Dropout(0.3, { seed: 8 });
  const seqA: number[][] = [];
  for (let s = 0; s < 5; s++) seqA.push([...(await a.forward(x).data())]);
  const b = new Dropout(0.3, { seed: 8 });
  for (let s = 0; s < 2; s++) b.forward(x).dispose();
  const saved = b.rngState();
  const c = new Dropout(0.3); // a new process: fresh layer, state from the checkpoint
  c.setRngState(saved);
  for (let s = 2; s < 5; s++) assertEquals([...(await c.forward(x).data())], seqA[s]);
  for (const m of [a, b, c]) m.dispose();
  x.dispose();
});

Deno.test("Dropout: namedGenerators() states saved as JSON and restored resume the masks", async () => {
  await initGpu();
  const x = fromArray(Float32Array.from({ length: 300 }, (_, i) => i + 1), [1, 300]);
  const net = () => new Sequential(new Dropout(0.4, { seed: 5 }), new Dropout(0.2, { seed: 6 }));
  const a = net();
  a.forward(x).dispose();
  // What a checkpoint stores: name → number[] (fit.ts keys them "model.<name>").
  const saved = JSON.parse(
    JSON.stringify(Object.fromEntries(a.namedGenerators().map(([n, g]) => [n, g.rngState()]))),
  ) as Record<string, number[]>;
  assertEquals(Object.keys(saved), ["0.mask", "1.mask"]);
  assert(Object.values(saved).every((s) => s.length === 4 && s.every(Number.isInteger)));
  const want = [...(await a.forward(x).data())];
  const b = net();
  for (const [n, g] of b.namedGenerators()) g.setRngState(saved[n]);
  assertEquals([...(await b.forward(x).data())], want);
  for (const m of [a, b]) m.dispose();
  x.dispose();
});

Deno.test("Dropout and BatchNorm in a network: gradients flow, training steps leak nothing, upload nothing, submit once", async () => {
  const g = await initGpu();
  const net = new Sequential(
    new Linear(6, 16, { seed: 1 }),
    new BatchNorm1d(16),
    new Dropout(0.5, { seed: 2 }),
    new Linear(16, 3, { seed: 3 }),
  );
  const x = fromArray(Float32Array.from({ length: 8 * 6 }, (_, i) => Math.sin(i)), [8, 6]);
  const step = () =>
    tidy(() => {
      net.zeroGrad();
      backward(mean(relu(net.forward(x))));
    });
  step();
  await g.sync();
  const before = gpu().stats();
  const policy = setSubmitPolicy("step"); // (software adapters' default submits at a read)
  for (let s = 0; s < 5; s++) step();
  setSubmitPolicy(policy);
  const after = gpu().stats();
  // No upload, and one submit per step: the end of its (outermost) tidy.
  assertEquals(after.uploads, before.uploads);
  assertEquals(after.submits - before.submits, 5);
  assertEquals(after.liveBuffers, before.liveBuffers);
  assertEquals(after.createdBuffers, before.createdBuffers);
  assertEquals(after.pipelines, before.pipelines);
  for (const p of net.parameters()) assert(p.grad, `${p.name} has a gradient`);
  const gw = await net.parameters()[2].grad!.data(); // BatchNorm weight
  assert(gw.some((v) => v !== 0), "BatchNorm γ gradient is not all zero");
  x.dispose();
  net.dispose();
});
