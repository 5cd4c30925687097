import { assert, assertEquals, assertRejects } from "../assert.ts";
import { backward, isGradEnabled, noGrad } from "../../core/autograd.ts";
import { gpu, initGpu } from "../../core/gpu.ts";
import { add, exp, mul, sub } from "../../core/ops/elementwise.ts";
import { sum } from "../../core/ops/reduce.ts";
import { fromArray, type Tensor, tidy } from "../../core/tensor.ts";

/** A leaf that requires a gradient. */
function leaf(values: number[], shape?: number[]): Tensor {
  const t = fromArray(values, shape);
  t.requiresGrad = true;
  return t;
}

/** Reads `t` and compares elementwise with `want` (float32 rounding allowed). */
async function expectValues(t: Tensor | null, want: number[], what: string): Promise<void> {
  assert(t, `${what}: no tensor`);
  const got = await t.data();
  assertEquals(got.length, want.length, `${what}: length`);
  for (let k = 0; k < want.length; k++) {
    assert(
      Math.abs(got[k] - want[k]) <= 1e-6 * Math.max(1, Math.abs(want[k])),
      `${what}: [${[...got]}] vs [${want}]`,
    );
  }
}

const X = [1.5, -2, 0.25, 3];

Deno.test("backward: gradients accumulate over two backward calls", async () => {
  await initGpu();
  const x = leaf(X);
  tidy(() => backward(sum(mul(x, 3))));
  await expectValues(x.grad, [3, 3, 3, 3], "after one backward");
  tidy(() => backward(sum(mul(x, x))));
  await expectValues(x.grad, X.map((v) => 3 + 2 * v), "after two");
  x.grad!.dispose();
  x.dispose();
});

Deno.test("backward: a tensor used twice (x·x, and x + x·y) sums both paths", async () => {
  await initGpu();
  const x = leaf(X), y = leaf([2, 2, -1, 0.5]);
  tidy(() => backward(sum(mul(x, x))));
  await expectValues(x.grad, X.map((v) => 2 * v), "d(x·x)/dx");
  x.grad!.dispose();
  x.grad = null;
  // z = x + x·y + exp(x): three uses of x in one graph.
  tidy(() => backward(sum(add(add(x, mul(x, y)), exp(x)))));
  const ys = [2, 2, -1, 0.5];
  await expectValues(x.grad, X.map((v, k) => 1 + ys[k] + Math.exp(v)), "dz/dx");
  await expectValues(y.grad, X, "dz/dy");
  for (const t of [x, y, x.grad!, y.grad!]) t.dispose();
});

Deno.test("detach: cuts the graph (no gradient through the detached copy)", async () => {
  await initGpu();
  const x = leaf(X);
  const d = x.detach();
  assert(!d.requiresGrad && d.node === null, "a detached tensor is a plain tensor");
  assertEquals([...await d.data()], [...Float32Array.from(X)], "same values");
  tidy(() => backward(sum(mul(d, x))));
  // d(d·x)/dx = d = x, not 2x.
  await expectValues(x.grad, X, "grad through the non-detached factor only");
  // Only through the detached path: nothing requires grad, so backward refuses.
  await assertRejects(() => tidy(() => backward(sum(mul(d, d)))), /require grad/);
  for (const t of [x, d, x.grad!]) t.dispose();
});

Deno.test("noGrad: records nothing, restores recording afterwards, even after a throw", async () => {
  await initGpu();
  const x = leaf(X);
  const y = noGrad(() => {
    assert(!isGradEnabled(), "disabled inside");
    return mul(x, x);
  });
  assert(isGradEnabled(), "enabled again after");
  assert(y.node === null && !y.requiresGrad, "no node recorded");
  await expectValues(y, X.map((v) => v * v), "values are still computed");
  await assertRejects(() => backward(y), /require grad/);
  await assertRejects(() =>
    noGrad(() => {
      throw new Error("inner failure");
    }), /inner failure/);
  assert(isGradEnabled(), "enabled again after a throw");
  assert(mul(x, x).node !== null, "recording works again");
  x.dispose();
  y.dispose();
});

Deno.test("backward: on a tensor that does not require grad throws a clear error", async () => {
  await initGpu();
  const a = fromArray(X);
  await assertRejects(
    () => backward(a),
    /backward\(\).*not computed from tensors that require grad/,
  );
  await assertRejects(() => backward(sum(mul(a, 2))), /require grad/);
  a.dispose();
});

Deno.test("retainGraph: allows a second backward; without it the graph is released", async () => {
  await initGpu();
  const x = leaf(X);
  const loss = tidy(() => sum(mul(mul(x, x), x))); // Σ x³
  backward(loss, undefined, { retainGraph: true });
  await expectValues(x.grad, X.map((v) => 3 * v * v), "first backward");
  backward(loss); // releases the graph
  await expectValues(x.grad, X.map((v) => 6 * v * v), "second backward accumulates");
  await assertRejects(() => backward(loss), /already released/);
  for (const t of [x, loss, x.grad!]) t.dispose();
});

Deno.test("backward: a seed gradient scales the result", async () => {
  await initGpu();
  const x = leaf(X);
  const y = tidy(() => mul(x, 2));
  backward(y, fromArray([1, 0, -1, 0.5]));
  await expectValues(x.grad, [2, 0, -2, 1], "seeded");
  for (const t of [x, y, x.grad!]) t.dispose();
});

Deno.test("tidy: disposes temporaries, keeps the result and kept tensors, frees the graph", async () => {
  const g = await initGpu();
  await g.sync();
  const live = () => gpu().stats().liveBuffers;
  const x = leaf(X);
  const before = live();

  const chain = () => sum(exp(sub(mul(add(x, 1), x), 0.5)));
  const value = [X.reduce((p, v) => p + Math.exp((v + 1) * v - 0.5), 0)];

  // Without autograd, a chain of five ops leaves exactly its result alive.
  const plain = tidy(() => noGrad(chain));
  assertEquals(live() - before, 1, "only the result survives");
  await expectValues(plain, value, "value");
  plain.dispose();
  assertEquals(live(), before, "result disposed");

  // With autograd the graph keeps the intermediates that backward needs ...
  const y = tidy(chain);
  assert(live() - before > 1, `the graph holds its saved tensors (${live() - before})`);
  await expectValues(y, value, "value");
  // ... until backward releases them.
  backward(y);
  const withGrad = before + 2; // y and x.grad
  assertEquals(live(), withGrad, "after backward: the result and the gradient");
  y.dispose();
  x.grad!.dispose();
  x.grad = null;
  assertEquals(live(), before, "back to where we started");

  // Temporaries of a tidy whose result is discarded are all freed, graph included.
  tidy(() => {
    sum(mul(exp(x), x));
  });
  assertEquals(live(), before, "nothing survives a tidy that returns nothing");

  // keep() exempts a tensor; a nested tidy hands its result to the outer scope. (A plain
  // input here: a graph would hold its saved tensors until backward releases it.)
  const p = fromArray(X);
  const base = live();
  let kept: Tensor | null = null;
  const outer = tidy(() => {
    kept = mul(p, 2).keep();
    mul(p, 3); // dropped
    return tidy(() => {
      exp(p); // dropped
      return add(p, 1);
    });
  });
  assertEquals(live(), base + 2, "kept and the nested result survive");
  await expectValues(outer, X.map((v) => v + 1), "nested result");
  await expectValues(kept, X.map((v) => 2 * v), "kept");
  outer.dispose();
  kept!.dispose();
  p.dispose();
  assertEquals(live(), before, "all freed");

  // A throw inside tidy still frees what was made.
  await assertRejects(() =>
    tidy(() => {
      mul(x, x);
      throw new Error("boom");
    }), /boom/);
  assertEquals(live(), before, "freed after a throw");

  // Many iterations hold a flat footprint.
  for (let i = 0; i < 50; i++) {
    tidy(() => {
      const l = sum(mul(sub(x, 1), x));
      backward(l);
    });
  }
  assertEquals(live(), before + 1, "50 steps: only the accumulated gradient remains");
  x.grad!.dispose();
  x.dispose();
  assertEquals(live(), before - 1, "x itself freed");
});
