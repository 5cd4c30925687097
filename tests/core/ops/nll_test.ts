import { assertEquals, assertRejects } from "../../assert.ts";
import { initGpu } from "../../../core/gpu.ts";
import { nll } from "../../../core/ops/loss.ts";
import { nllLoss, type NllLossOptions } from "../../../core/ops/nll.ts";
import { logSoftmax } from "../../../core/ops/softmax.ts";
import { add, mul } from "../../../core/ops/elementwise.ts";
import { sum } from "../../../core/ops/reduce.ts";
import type { Rng } from "../../../core/random.ts";
import { fromArray } from "../../../core/tensor.ts";
import { checkOp } from "./check.ts";

/** Float64 reference of ONNX's NegativeLogLikelihoodLoss. */
function ref(
  x: Float64Array,
  t: Float64Array,
  w: Float64Array | null,
  shape: number[],
  reduction: string,
  ii?: number,
): Float64Array {
  const [N, C] = shape, D = shape.slice(2).reduce((p, d) => p * d, 1);
  const loss = new Float64Array(N * D);
  let wsum = 0;
  for (let n = 0; n < N; n++) {
    for (let d = 0; d < D; d++) {
      const c = t[n * D + d];
      if (c === ii || c < 0 || c >= C) continue;
      const wt = w ? w[c] : 1;
      loss[n * D + d] = -x[n * C * D + c * D + d] * wt;
      wsum += wt;
    }
  }
  if (reduction === "none") return loss;
  const s = loss.reduce((p, v) => p + v, 0);
  return Float64Array.of(reduction === "sum" ? s : s / wsum);
}

const CASES: [number[], NllLossOptions["reduction"], boolean, number | undefined][] = [
  [[7, 5], "mean", false, undefined],
  [[7, 5], "sum", true, undefined],
  [[7, 5], "none", true, -1],
  [[3, 4, 6], "mean", true, 2],
  [[2, 3, 4, 5], "none", false, undefined],
  [[2, 3, 4, 5], "mean", true, -1],
  [[65, 9], "sum", false, 0],
  [[2, 3, 2, 2, 3], "mean", false, -100],
];

Deno.test("nllLoss: none / sum / mean, class weights, ignore_index, spatial dims; gradient", async () => {
  for (const [shape, reduction, weighted, ii] of CASES) {
    const [N, C] = shape;
    const tShape = [N, ...shape.slice(2)];
    // Targets in [-1, C): -1 is either ignored or (when not the ignore index) out of range.
    const gen = (r: Rng, k: number) =>
      k === 0 ? r.uniform(-4, 0) : k === 1 ? r.int(C + 1) - 1 : r.uniform(0.1, 2);
    const shapes = weighted ? [shape, tShape, [C]] : [shape, tShape];
    await checkOp(
      (x, t, w) => nllLoss(x, t, { weight: w, reduction, ignoreIndex: ii }),
      ([x, t, w], [s]) => ref(x, t, w ?? null, s, reduction!, ii),
      shapes,
      { gen, noGrad: weighted ? [1, 2] : [1] },
    );
  }
});

/** Float64 log-softmax over axis 1 of [N, C, d…]. */
function logSoftmaxRef(x: Float64Array, shape: number[]): Float64Array {
  const [N, C] = shape, D = shape.slice(2).reduce((p, d) => p * d, 1);
  const y = new Float64Array(x.length);
  for (let n = 0; n < N; n++) {
    for (let d = 0; d < D; d++) {
      const at = (c: number) => n * C * D + c * D + d;
      let m = -Infinity, s = 0;
      for (let c = 0; c < C; c++) m = Math.max(m, x[at(c)]);
      for (let c = 0; c < C; c++) s += Math.exp(x[at(c)] - m);
      for (let c = 0; c < C; c++) y[at(c)] = x[at(c)] - m - Math.log(s);
    }
  }
  return y;
}

Deno.test("nllLoss after logSoftmax(·, 1): one fused backward, same values and gradients", async () => {
  for (const [shape, reduction, weighted, ii] of CASES) {
    const [N, C] = shape;
    const tShape = [N, ...shape.slice(2)];
    const gen = (r: Rng, k: number) =>
      k === 0 ? r.uniform(-3, 3) : k === 1 ? r.int(C + 1) - 1 : r.uniform(0.1, 2);
    const shapes = weighted ? [shape, tShape, [C]] : [shape, tShape];
    await checkOp(
      (x, t, w) => {
        const y = nllLoss(logSoftmax(x, 1), t, { weight: w, reduction, ignoreIndex: ii });
        assertEquals(y.node?.name, "nllLoss_logSoftmax");
        return y;
      },
      ([x, t, w], [s]) => ref(logSoftmaxRef(x, s), t, w ?? null, s, reduction!, ii),
      shapes,
      { gen, noGrad: weighted ? [1, 2] : [1] },
    );
  }
});

Deno.test("nllLoss after logSoftmax: a second consumer of the log-probabilities still gets its gradient", async () => {
  // loss = nll(logp, t) + Σ logp·R: the fused node sends nll's part straight to x, the
  // log-softmax node carries the other.
  const shape = [5, 7];
  const R = Float64Array.from({ length: 35 }, (_, i) => Math.sin(i));
  await checkOp(
    (x, t) => {
      const lp = logSoftmax(x, 1);
      return add(nllLoss(lp, t), sum(mul(lp, fromArray(Float32Array.from(R), shape))));
    },
    ([x, t], [s]) => {
      const lp = logSoftmaxRef(x, s);
      const extra = lp.reduce((p, v, i) => p + v * R[i], 0);
      return Float64Array.of(ref(lp, t, null, s, "mean")[0] + extra);
    },
    [shape, [5]],
    { gen: (r: Rng, k: number) => (k === 0 ? r.uniform(-3, 3) : r.int(7)), noGrad: [1] },
  );
});

Deno.test("nllLoss: nll of loss.ts is its default (mean) form on [N, C], targets [N] or [N, 1]", async () => {
  await initGpu();
  const x = fromArray(Float32Array.from({ length: 20 }, (_, i) => -Math.abs(Math.sin(i))), [4, 5]);
  const t = fromArray([0, 4, 2, 2]);
  const a = await nllLoss(x, t).data(), b = await nll(x, t).data();
  assertEquals([...b], [...a]);
  const t1 = fromArray([0, 4, 2, 2], [4, 1]);
  assertEquals([...(await nll(x, t1).data())], [...a]);
  t1.dispose();
  await assertRejects(() => nll(x, fromArray([0, 1, 2])), /nll: log-probabilities \[4,5\]/);
  await assertRejects(() => nllLoss(x, fromArray([0, 1, 2])), /target \[3\] must be \[4\]/);
  await assertRejects(
    () => nllLoss(x, t, { weight: fromArray([1, 1]) }),
    /weight \[2\] must have 5/,
  );
  x.dispose();
  t.dispose();
});
