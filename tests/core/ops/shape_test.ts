import { assert, assertEquals, assertRejects } from "../../assert.ts";
import { initGpu } from "../../../core/gpu.ts";
import { mul } from "../../../core/ops/elementwise.ts";
import { concat, reshape, slice, transpose } from "../../../core/ops/shape.ts";
import { fromArray, type Tensor } from "../../../core/tensor.ts";
import { checkOp } from "./check.ts";
import * as R from "./ref.ts";

/** Wraps `op` so that the result's shape is checked as well. */
function shaped(op: (...xs: Tensor[]) => Tensor, want: number[]) {
  return (...xs: Tensor[]) => {
    const y = op(...xs);
    assertEquals([...y.shape], want);
    return y;
  };
}

Deno.test("reshape: a view with the same values; gradient reshaped back", async () => {
  const cases: [number[], number[], number[]][] = [
    [[63, 65], [65, 63], [65, 63]],
    [[5, 7, 3], [35, -1], [35, 3]],
    [[257, 1, 7], [-1], [1799]],
    [[7], [1, 7, 1], [1, 7, 1]],
    [[5, 7, 3], [5, 7, 3], [5, 7, 3]],
  ];
  for (const [from, to, want] of cases) {
    // Multiplying by 2 after the reshape makes the gradient flow through a real op.
    await checkOp(shaped((a) => mul(reshape(a, to), 2), want), ([a]) => a.map((v) => 2 * v), [
      from,
    ]);
  }
  await initGpu();
  const t = fromArray([1, 2, 3, 4, 5, 6], [2, 3]);
  await assertRejects(() => reshape(t, [4, 2]), /reshape/);
  await assertRejects(() => reshape(t, [4, -1]), /reshape/);
  t.dispose();
});

Deno.test("transpose: every permutation of a 3-D tensor, 2-D, 4-D and the default", async () => {
  const perms3 = [[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]];
  for (const shape of [[5, 7, 3], [257, 1, 7]]) {
    for (const p of perms3) {
      await checkOp(
        shaped((a) => transpose(a, p), p.map((k) => shape[k])),
        ([a], [s]) => R.transpose(a, s, p),
        [shape],
      );
    }
  }
  await checkOp(shaped((a) => transpose(a), [65, 63]), ([a], [s]) => R.transpose(a, s, [1, 0]), [
    [63, 65],
  ]);
  await checkOp(
    shaped((a) => transpose(a), [3, 7, 5]),
    ([a], [s]) => R.transpose(a, s, [2, 1, 0]),
    [[5, 7, 3]],
  );
  for (const p of [[0, 2, 3, 1], [3, 1, 0, 2], [1, 0, 3, 2]]) {
    const shape = [2, 5, 7, 3];
    await checkOp(
      shaped((a) => transpose(a, p), p.map((k) => shape[k])),
      ([a], [s]) => R.transpose(a, s, p),
      [shape],
    );
  }
  await initGpu();
  const t = fromArray([1, 2, 3, 4, 5, 6], [2, 3]);
  await assertRejects(() => transpose(t, [0, 0]), /permutation/);
  await assertRejects(() => transpose(t, [0]), /permutation/);
  t.dispose();
});

Deno.test("slice: blocks of 1-D, 2-D and 3-D tensors; gradient scattered back", async () => {
  const cases: [number[], number[], number[]][] = [
    [[7], [2], [5]],
    [[7], [0], [7]],
    [[7], [6], [7]],
    [[63, 65], [1, 0], [62, 65]],
    [[63, 65], [10, 3], [11, 64]],
    [[63, 65], [0, 64], [63, 65]],
    [[5, 7, 3], [1, 2, 0], [4, 7, 2]],
    [[5, 7, 3], [0, 0, 1], [5, 7, 3]],
    [[257, 1, 7], [100, 0, 2], [257, 1, 5]],
  ];
  for (const [shape, starts, ends] of cases) {
    await checkOp(
      shaped((a) => slice(a, starts, ends), shape.map((_, k) => ends[k] - starts[k])),
      ([a], [s]) => R.slice(a, s, starts, ends),
      [shape],
    );
  }
  // Omitted ends run to the end of the axis, and ends past it are clamped.
  await checkOp(
    shaped((a) => slice(a, [2, 1], [99]), [3, 6]),
    ([a], [s]) => R.slice(a, s, [2, 1], [5, 7]),
    [[5, 7]],
  );
});

Deno.test("concat: along each axis, two and three operands of unequal lengths", async () => {
  const cases: [number[][], number][] = [
    [[[7], [1], [63]], 0],
    [[[63, 65], [2, 65]], 0],
    [[[63, 65], [63, 7]], 1],
    [[[63, 65], [63, 1], [63, 2]], -1],
    [[[5, 7, 3], [2, 7, 3]], 0],
    [[[5, 7, 3], [5, 1, 3], [5, 2, 3]], 1],
    [[[5, 7, 3], [5, 7, 1]], 2],
    [[[257, 1, 7], [257, 2, 7]], 1],
    [[[257, 1, 7], [257, 1, 7]], 2],
  ];
  for (const [shapes, axis] of cases) {
    const ax = R.axis(axis, shapes[0].length);
    const want = [...shapes[0]];
    want[ax] = shapes.reduce((p, s) => p + s[ax], 0);
    await checkOp(
      shaped((...ts) => concat(ts, axis), want),
      (xs, ss) => R.concat(xs, ss, ax),
      shapes,
    );
  }
  await initGpu();
  const a = fromArray([1, 2, 3, 4, 5, 6], [2, 3]), b = fromArray([1, 2], [2, 1]);
  await assertRejects(() => concat([a, b], 0), /concat/);
  const ok = concat([a, b], 1);
  assert(ok.shape[1] === 4);
  assertEquals([...await ok.data()], [1, 2, 3, 1, 4, 5, 6, 2]);
  for (const t of [a, b, ok]) t.dispose();
});
