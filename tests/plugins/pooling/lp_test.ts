/** Lp pooling (L2 and other p): forward against float64, gradients against finite differences. */
import { assertEquals, assertRejects } from "../../assert.ts";
import { checkOp } from "../../core/ops/check.ts";
import { backward } from "../../../core/autograd.ts";
import { initGpu } from "../../../core/gpu.ts";
import { sum } from "../../../core/ops/reduce.ts";
import { fromArray } from "../../../core/tensor.ts";
import { LpPool2d, lpPool2d, type LpPoolOptions } from "../../../plugins/pooling/lp.ts";
import { lpRef, type RefWindow } from "./ref.ts";

const SHAPE = [2, 3, 7, 9];
// Keep |x| away from 0, where |x| and |x|^(p-1) have kinks.
const gen = (r: { next(): number; uniform(a: number, b: number): number }) =>
  (r.next() < 0.5 ? -1 : 1) * r.uniform(0.1, 2);

const cases: [string, LpPoolOptions, RefWindow, number][] = [
  ["L2 kernel 2", { kernel: 2 }, { k: [2, 2], s: [2, 2] }, 2],
  ["L2 kernel 3 stride 2 padding 1 ceil", { kernel: 3, stride: 2, padding: 1, ceilMode: true }, {
    k: [3, 3],
    s: [2, 2],
    p: [1, 1, 1, 1],
    ceil: true,
  }, 2],
  ["L2 kernel [2,3] stride 1 dilation [2,1]", { kernel: [2, 3], stride: 1, dilation: [2, 1] }, {
    k: [2, 3],
    s: [1, 1],
    d: [2, 1],
  }, 2],
  ["p = 3 kernel 3 stride 2", { kernel: 3, stride: 2, p: 3 }, { k: [3, 3], s: [2, 2] }, 3],
  ["p = 1 kernel 2 stride 1 padding same", { kernel: 2, stride: 1, p: 1, padding: "same" }, {
    k: [2, 2],
    s: [1, 1],
    p: [0, 0, 1, 1],
  }, 1],
  ["p = 1.5 kernel 3", { kernel: 3, p: 1.5 }, { k: [3, 3], s: [3, 3] }, 1.5],
];

for (const [name, opts, w, p] of cases) {
  Deno.test(`lpPool2d ${name}: forward and gradient on [${SHAPE}]`, async () => {
    await checkOp((x) => lpPool2d(x, opts), ([x]) => lpRef(x, SHAPE, w, p).y, [SHAPE], {
      gen,
      probes: 40,
    });
  });
}

Deno.test("lpPool2d: an all-zero window gives 0 with gradient 0, not NaN", async () => {
  await initGpu();
  const x = fromArray([0, 0, 0, 0, 3, 4, 0, 0], [1, 1, 2, 4]);
  x.requiresGrad = true;
  const y = lpPool2d(x, { kernel: 2 });
  assertEquals(Array.from(await y.data()), [5, 0]);
  backward(sum(y));
  assertEquals(Array.from(await x.grad!.data()), [0, 0, 0, 0, 0.6, 0.8, 0, 0].map(Math.fround));
});

Deno.test("LpPool2d layer and option errors", async () => {
  await initGpu();
  assertEquals(new LpPool2d({ kernel: 2 }).options.p, undefined);
  const x = fromArray(new Float32Array(16), [1, 1, 4, 4]);
  await assertRejects(() => lpPool2d(x, { kernel: 2, p: 0.5 }), /p must be ≥ 1/);
});
