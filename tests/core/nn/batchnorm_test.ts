import { assert, assertEquals, assertRejects } from "../../assert.ts";
import { backward } from "../../../core/autograd.ts";
import { initGpu } from "../../../core/gpu.ts";
import { mul } from "../../../core/ops/elementwise.ts";
import { sum } from "../../../core/ops/reduce.ts";
import { BatchNorm, BatchNorm1d, BatchNorm2d } from "../../../core/nn/batchnorm.ts";
import { Linear } from "../../../core/nn/linear.ts";
import { Sequential } from "../../../core/nn/sequential.ts";
import { fromArray, tidy } from "../../../core/tensor.ts";
import { relErr } from "../ops/check.ts";

interface Step {
  x: number[];
  r: number[];
  y: number[];
  dx: number[];
  dweight: number[];
  dbias: number[];
  running_mean: number[];
  running_var: number[];
  num_batches_tracked: number;
}
interface Case {
  name: string;
  shape: number[];
  momentum: number | null;
  eps: number;
  weight: number[];
  bias: number[];
  steps: Step[];
  eval: { x: number[]; y: number[] };
}

const fixture = JSON.parse(
  await Deno.readTextFile(new URL("../../../fixtures/layers/batchnorm.json", import.meta.url)),
) as { torch: string; cases: Case[] };

const TOL = 1e-4;

for (const c of fixture.cases) {
  Deno.test(`BatchNorm vs PyTorch ${fixture.torch}: ${c.name}, ${c.steps.length} training steps then eval`, async () => {
    await initGpu();
    const C = c.shape[1];
    const bn = c.shape.length === 4
      ? new BatchNorm2d(C, { momentum: c.momentum, eps: c.eps })
      : new BatchNorm1d(C, { momentum: c.momentum, eps: c.eps });
    bn.loadStateDict({
      weight: { shape: [C], data: Float32Array.from(c.weight) },
      bias: { shape: [C], data: Float32Array.from(c.bias) },
    }, { strict: false });
    const check = (what: string, got: Float32Array, want: number[]) => {
      const e = relErr(got, want);
      assert(e <= TOL, `${c.name} ${what}: relative error ${e.toExponential(2)}`);
    };
    for (const [k, s] of c.steps.entries()) {
      bn.zeroGrad();
      const { y, dx } = tidy(() => {
        const x = fromArray(s.x, c.shape);
        x.requiresGrad = true;
        const y = bn.forward(x);
        backward(sum(mul(y, fromArray(s.r, c.shape))));
        return { y: y.detach(), dx: x.grad!.detach() };
      });
      check(`step ${k} y`, await y.data(), s.y);
      check(`step ${k} dx`, await dx.data(), s.dx);
      check(`step ${k} dweight`, await bn.weight!.grad!.data(), s.dweight);
      check(`step ${k} dbias`, await bn.bias!.grad!.data(), s.dbias);
      check(`step ${k} running_mean`, await bn.runningMean!.data(), s.running_mean);
      check(`step ${k} running_var`, await bn.runningVar!.data(), s.running_var);
      assertEquals(await bn.numBatchesTracked!.item(), s.num_batches_tracked);
      y.dispose();
      dx.dispose();
    }
    bn.eval();
    const ye = tidy(() => bn.forward(fromArray(c.eval.x, c.shape)));
    check("eval y", await ye.data(), c.eval.y);
    ye.dispose();
    bn.dispose();
  });
}

Deno.test("BatchNorm: PyTorch's state-dict names and initial values; train()/eval() through Sequential", async () => {
  await initGpu();
  const net = new Sequential(new Linear(3, 4), new BatchNorm1d(4), new Linear(4, 2));
  const sd = await net.stateDict();
  assertEquals(Object.keys(sd), [
    "0.weight",
    "0.bias",
    "1.weight",
    "1.bias",
    "2.weight",
    "2.bias",
    "1.running_mean",
    "1.running_var",
    "1.num_batches_tracked",
  ]);
  assertEquals([...sd["1.weight"].data], [1, 1, 1, 1]);
  assertEquals([...sd["1.running_var"].data], [1, 1, 1, 1]);
  assertEquals(sd["1.num_batches_tracked"].shape, []);
  assertEquals(net.parameters().length, 6);
  net.eval();
  assertEquals((net.layers[1] as BatchNorm).training, false);
  // Eval: running statistics (still 0 and 1), so y = x·γ/√(1 + ε) + β: nothing changes.
  const x = fromArray([1, 2, 3, 4, 5, 6, 7, 8], [2, 4]);
  const y = net.layers[1].forward(x);
  const got = await y.data();
  assert(relErr(got, [1, 2, 3, 4, 5, 6, 7, 8].map((v) => v / Math.sqrt(1 + 1e-5))) < 1e-6);
  assertEquals(await (net.layers[1] as BatchNorm).numBatchesTracked!.item(), 0);
  net.train();
  net.layers[1].forward(x).dispose();
  assertEquals(await (net.layers[1] as BatchNorm).numBatchesTracked!.item(), 1);
  for (const t of [x, y]) t.dispose();
  net.dispose();
});

Deno.test("BatchNorm: affine off, no running statistics (batch statistics in eval), rank checks", async () => {
  await initGpu();
  const bn = new BatchNorm2d(2, { affine: false, trackRunningStats: false });
  assertEquals(bn.parameters().length, 0);
  assertEquals(bn.namedBuffers().length, 0);
  bn.eval();
  const x = fromArray([1, 3, 10, 30, 2, 4, 20, 40], [2, 2, 2, 1]);
  const y = await bn.forward(x).data();
  // channel 0: 1, 3, 2, 4 → mean 2.5, var 1.25; channel 1: 10, 30, 20, 40 → mean 25, var 125.
  const want = [1, 3, 2, 4].map((v) => (v - 2.5) / Math.sqrt(1.25 + 1e-5));
  assert(relErr([y[0], y[1], y[4], y[5]], want) < 1e-5);
  await assertRejects(
    () => new BatchNorm2d(2).forward(fromArray([1, 2, 3, 4], [2, 2])),
    /BatchNorm2d\(2\): expected \[N, 2, H, W\]/,
  );
  await assertRejects(
    () => new BatchNorm1d(3).forward(fromArray([1, 2, 3, 4], [2, 2])),
    /BatchNorm1d\(3\): expected/,
  );
  await assertRejects(() => new BatchNorm1d(0), /positive integer/);
  x.dispose();
});
