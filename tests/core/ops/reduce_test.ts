import { assertEquals } from "../../assert.ts";
import { backward } from "../../../core/autograd.ts";
import { initGpu } from "../../../core/gpu.ts";
import { max, mean, sum, sumTo } from "../../../core/ops/reduce.ts";
import type { Rng } from "../../../core/random.ts";
import { fromArray, type Tensor, tidy } from "../../../core/tensor.ts";
import { checkOp } from "./check.ts";
import * as R from "./ref.ts";

type Reduce = (a: Tensor, axes?: number | number[], keepDims?: boolean) => Tensor;
const ops: [string, Reduce][] = [["sum", sum], ["mean", mean], ["max", max]];

/** Per shape: the axis lists to reduce over (undefined: all axes). */
const cases: [number[], (number[] | undefined)[]][] = [
  [[7], [[0], undefined]],
  [[63, 65], [[0], [1], [-1], [0, 1], undefined]],
  [[5, 7, 3], [[0], [1], [2], [0, 2], [1, 2], [0, 1], [-3, -1], undefined]],
  [[257, 1, 7], [[0], [1], [2], [0, 1], [0, 2], undefined]],
];

/**
 * Values that are pairwise at least 1e-3 apart (a shuffled grid), so the maximum is unique
 * and a finite-difference step of 1e-4 never changes which element is largest.
 */
function distinct(n: number) {
  let order: number[] | null = null;
  let k = 0;
  return (rng: Rng) => {
    if (!order) {
      order = [...Array(n).keys()];
      for (let i = n - 1; i > 0; i--) {
        const j = rng.int(i + 1);
        [order[i], order[j]] = [order[j], order[i]];
      }
    }
    return -2 + order[k++ % n] * (4 / n) + rng.uniform(0, 1e-3);
  };
}

/**
 * Values for sum and mean: biased away from a zero mean, so a long sum does not cancel to
 * near zero (where float32 accumulation error, relative to the result, is unbounded).
 */
const biased = (rng: Rng) => rng.uniform(-1, 3);
const genFor = (name: string, n: number) => (name === "max" ? distinct(n) : biased);

for (const [name, op] of ops) {
  for (const keepDims of [false, true]) {
    Deno.test(`${name}: forward and gradient over single, several and all axes (keepDims ${keepDims})`, async () => {
      for (const [shape, axesList] of cases) {
        for (const axes of axesList) {
          const want = R.reducedShape(shape, axes ?? shape.map((_, k) => k), keepDims);
          await checkOp(
            (a) => {
              const y = op(a, axes, keepDims);
              assertEquals([...y.shape], want, `${name}([${shape}], ${axes}) shape`);
              return y;
            },
            ([a], [s]) => R.reduce(name as "sum" | "mean" | "max", a, s, axes),
            [shape],
            { gen: genFor(name, R.size(shape)) },
          );
        }
      }
    });
  }
}

Deno.test("sum/mean/max: a single axis given as a number", async () => {
  for (const [name, op] of ops) {
    await checkOp(
      (a) => op(a, 1),
      ([a], [s]) => R.reduce(name as "sum" | "mean" | "max", a, s, [1]),
      [[5, 7, 3]],
      { gen: genFor(name, 105) },
    );
  }
});

Deno.test("max: tied maxima share the gradient equally", async () => {
  await initGpu();
  const x = fromArray([3, 1, 3, 3, -2, 0], [2, 3]);
  x.requiresGrad = true;
  tidy(() => backward(sum(max(x, 1))));
  // Row 0 ties at 3 twice, row 1 has one max: d/dx = [½, 0, ½, 1, 0, 0].
  assertEquals([...await x.grad!.data()], [0.5, 0, 0.5, 1, 0, 0]);
  const y = fromArray([5, 5, 5, 5], [4]);
  y.requiresGrad = true;
  tidy(() => backward(max(y)));
  assertEquals([...await y.grad!.data()], [0.25, 0.25, 0.25, 0.25]);
  for (const t of [x, y, x.grad!, y.grad!]) t.dispose();
});

Deno.test("sumTo: folds a broadcast tensor back to a shape", async () => {
  const pairs: [number[], number[]][] = [
    [[63, 65], [65]],
    [[63, 65], [63, 1]],
    [[5, 7, 3], [7, 1]],
    [[257, 1, 7], [1, 1, 1]],
    [[257, 1, 7], []],
    [[5, 7, 3], [5, 7, 3]],
  ];
  for (const [from, to] of pairs) {
    const lead = from.length - to.length;
    const axes = from.map((_, k) => k).filter((k) => k < lead || to[k - lead] === 1);
    await checkOp(
      (a) => {
        const y = sumTo(a, to);
        assertEquals([...y.shape], to);
        return y;
      },
      ([a], [s]) => R.reduce("sum", a, s, axes),
      [from],
      { noGrad: [0], gen: biased }, // sumTo is a backward helper: it records no gradient itself
    );
  }
});
