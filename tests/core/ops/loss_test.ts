import { assertClose, assertEquals, assertRejects } from "../../assert.ts";
import { initGpu } from "../../../core/gpu.ts";
import { bce, bceWithLogits, crossEntropy, mse, nll } from "../../../core/ops/loss.ts";
import type { Rng } from "../../../core/random.ts";
import { fromArray, type Tensor } from "../../../core/tensor.ts";
import { checkOp } from "./check.ts";
import * as R from "./ref.ts";

const mean = (n: number, f: (i: number) => number) => {
  let s = 0;
  for (let i = 0; i < n; i++) s += f(i);
  return Float64Array.of(s / n);
};

/** Wraps a loss so that the result is checked to be a scalar. */
function scalar(op: (...xs: Tensor[]) => Tensor) {
  return (...xs: Tensor[]) => {
    const y = op(...xs);
    assertEquals([...y.shape], []);
    return y;
  };
}

const SHAPES = [[1], [7], [63, 65], [257, 1]];

Deno.test("mse: (1/N)·Σ(p − t)² and the 1/(2N) form, gradients for both inputs", async () => {
  for (const half of [false, true]) {
    for (const s of SHAPES) {
      await checkOp(
        scalar((p, t) => mse(p, t, { half })),
        ([p, t]) => mean(p.length, (i) => (half ? 0.5 : 1) * (p[i] - t[i]) ** 2),
        [s, s],
      );
    }
  }
});

Deno.test("bce: binary cross-entropy on probabilities, soft targets", async () => {
  const gen = (r: Rng, k: number) => (k === 0 ? r.uniform(0.02, 0.98) : r.uniform(0, 1));
  for (const s of SHAPES) {
    await checkOp(
      scalar(bce),
      ([p, t]) => mean(p.length, (i) => -(t[i] * Math.log(p[i]) + (1 - t[i]) * Math.log(1 - p[i]))),
      [s, s],
      { gen },
    );
  }
  // p = 0 or 1 exactly: each log is clamped at −100 (PyTorch's rule), so no Inf/NaN.
  await initGpu();
  const p = fromArray([0, 1, 0.5]), t = fromArray([1, 0, 1]);
  assertClose(await bce(p, t).item(), (100 + 100 + Math.LN2) / 3, 1e-4);
  p.dispose();
  t.dispose();
});

Deno.test("bceWithLogits: on logits, including large ones (|x| up to 60)", async () => {
  const ref = ([x, t]: Float64Array[]) =>
    mean(x.length, (i) => t[i] * R.softplus(-x[i]) + (1 - t[i]) * R.softplus(x[i]));
  const soft = (r: Rng, k: number) => (k === 0 ? r.uniform(-4, 4) : r.uniform(0, 1));
  const large = (r: Rng, k: number) => (k === 0 ? r.uniform(-60, 60) : r.uniform(0, 1));
  for (const s of SHAPES) {
    await checkOp(scalar(bceWithLogits), ref, [s, s], { gen: soft });
    await checkOp(scalar(bceWithLogits), ref, [s, s], { gen: large });
  }
  // Hard 0/1 targets against logits of ±100: the loss is 100 where wrong, ~0 where right.
  await initGpu();
  const x = fromArray([100, -100, 100, -100]), t = fromArray([0, 1, 1, 0]);
  assertClose(await bceWithLogits(x, t).item(), 50, 1e-4);
  x.dispose();
  t.dispose();
});

/** Class indices in [0, C) for input 1 (the targets); input 0 from `x`. */
const withClasses = (C: number, x: (r: Rng) => number) => (r: Rng, k: number) =>
  k === 1 ? r.int(C) : x(r);

const NC = [[1, 1], [7, 3], [63, 7], [1, 65], [257, 10]];

Deno.test("nll: −mean(logp[i, tᵢ]); class-index targets get no gradient", async () => {
  for (const [N, C] of NC) {
    await checkOp(
      scalar(nll),
      ([lp, t]) => mean(N, (i) => -lp[i * C + t[i]]),
      [[N, C], [N]],
      { gen: withClasses(C, (r) => r.uniform(-5, 0)), noGrad: [1] },
    );
  }
  await initGpu();
  const lp = fromArray([0, 0, 0, 0, 0, 0], [2, 3]), bad = fromArray([0, 1, 2]);
  await assertRejects(() => nll(lp, bad), /nll/);
  lp.dispose();
  bad.dispose();
});

Deno.test("crossEntropy: on logits, including large and offset ones", async () => {
  const ref = (C: number) => ([x, t]: Float64Array[]) =>
    mean(x.length / C, (i) => {
      const row = x.subarray(i * C, (i + 1) * C);
      const m = Math.max(...row);
      const lse = m + Math.log(row.reduce((p, v) => p + Math.exp(v - m), 0));
      return lse - row[t[i]];
    });
  for (const [N, C] of NC) {
    for (
      const [x, gradTol] of [
        [(r: Rng) => r.uniform(-3, 3), 1e-4],
        [(r: Rng) => r.uniform(-50, 50), 1e-4],
        // Finite differences step by 1e-4·|x| = 0.1 here: their own error is ~5e-4.
        [(r: Rng) => 1000 + r.uniform(-3, 3), 1e-3],
      ] as [(r: Rng) => number, number][]
    ) {
      await checkOp(scalar(crossEntropy), ref(C), [[N, C], [N]], {
        gen: withClasses(C, x),
        noGrad: [1],
        gradTol,
      });
    }
  }
});
