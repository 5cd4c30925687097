import { assert } from "../../assert.ts";
import { initGpu } from "../../../core/gpu.ts";
import { logSoftmax, softmax } from "../../../core/ops/softmax.ts";
import type { Rng } from "../../../core/random.ts";
import { fromArray, type Tensor } from "../../../core/tensor.ts";
import { checkOp } from "./check.ts";
import * as R from "./ref.ts";

const ops: [string, (x: Tensor, axis?: number) => Tensor, boolean][] = [
  ["softmax", softmax, false],
  ["logSoftmax", logSoftmax, true],
];

for (const [name, op, log] of ops) {
  Deno.test(`${name}: every axis of a 3-D tensor, negative axes, default axis`, async () => {
    for (const shape of [[5, 7, 3], [3, 65, 2]]) {
      for (const axis of [0, 1, 2, -1, -2, -3]) {
        await checkOp((x) => op(x, axis), ([x], [s]) => R.softmax(x, s, axis, log), [shape]);
      }
    }
    await checkOp((x) => op(x), ([x], [s]) => R.softmax(x, s, -1, log), [[5, 7, 3]]);
  });

  Deno.test(`${name}: rows of length 1, 7, 63, 65, 257`, async () => {
    for (const shape of [[7, 1], [1, 7], [2, 63], [65, 3], [1, 257]]) {
      await checkOp((x) => op(x, -1), ([x], [s]) => R.softmax(x, s, -1, log), [shape]);
    }
    await checkOp((x) => op(x, 0), ([x], [s]) => R.softmax(x, s, 0, log), [[257, 2]]);
  });

  Deno.test(`${name}: stable for large-magnitude inputs`, async () => {
    // Values near ±1000 overflow a naive exp(x); with the row maximum subtracted first the
    // result is exact. The gradient is checked too; finite differences step by 1e-4·|x|,
    // whose truncation error at |x| = 1000 is ~5e-4, so those cases allow 1e-3.
    for (const offset of [1000, -1000, 80]) {
      const gen = (r: Rng) => offset + r.uniform(-3, 3);
      for (const axis of [0, 1, 2]) {
        await checkOp((x) => op(x, axis), ([x], [s]) => R.softmax(x, s, axis, log), [[5, 7, 3]], {
          gen,
          gradTol: Math.abs(offset) >= 1000 ? 1e-3 : 1e-4,
        });
      }
    }
    // A wide spread (±500): every row is a near one-hot; forward only.
    for (const axis of [0, 2]) {
      await checkOp(
        (x) => op(x, axis),
        ([x], [s]) => R.softmax(x, s, axis, log),
        [[5, 7, 3]],
        { gen: (r: Rng) => r.uniform(-500, 500), noGrad: [0] },
      );
    }
    // Hand-checkable rows: [1000, 1000] → [½, ½]; [-1e30, 0] → [0, 1].
    await initGpu();
    const x = fromArray([1000, 1000, -1e30, 0], [2, 2]);
    const y = await op(x, 1).data();
    const want = log ? [-Math.LN2, -Math.LN2, -1e30, 0] : [0.5, 0.5, 0, 1];
    for (let k = 0; k < 4; k++) {
      assert(Number.isFinite(y[k]), `${name}: non-finite ${y[k]} at ${k}`);
      assert(Math.abs(y[k] - want[k]) <= 1e-6 * Math.max(1, Math.abs(want[k])), `${y} vs ${want}`);
    }
    x.dispose();
  });
}
