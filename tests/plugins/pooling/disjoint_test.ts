/**
 * The backward of disjoint windows (stride ≥ window span), which scatters from each window
 * instead of gathering per input: max, average and Lp pooling on sizes that fit no tile
 * (7×10, 11×5), windows that cover the input exactly, leave rows and columns out, start in
 * the padding, or skip taps (dilation): forward against the float64 references, gradients
 * against finite differences.
 */
import { assert } from "../../assert.ts";
import { checkOp } from "../../core/ops/check.ts";
import { windowGeometry, windowsCover, windowsDisjoint } from "../../../core/ops/window.ts";
import { avgPool2d } from "../../../plugins/pooling/average.ts";
import { lpPool2d } from "../../../plugins/pooling/lp.ts";
import { maxPool2d } from "../../../plugins/pooling/max.ts";
import type { WindowOptions } from "../../../plugins/pooling/window.ts";
import { avgRef, lpRef, maxRef, type RefWindow } from "./ref.ts";

const cases: [string, number[], WindowOptions, RefWindow, boolean][] = [
  ["k3 s3 on 7×10 (last row and column uncovered)", [2, 3, 7, 10], { kernel: 3 }, {
    k: [3, 3],
    s: [3, 3],
  }, false],
  ["k3 s3 ceil on 7×10 (covered)", [2, 3, 7, 10], { kernel: 3, ceilMode: true }, {
    k: [3, 3],
    s: [3, 3],
    ceil: true,
  }, true],
  ["k[2,3] s[3,4] on 11×5 (gaps)", [1, 3, 11, 5], { kernel: [2, 3], stride: [3, 4] }, {
    k: [2, 3],
    s: [3, 4],
  }, false],
  ["k2 s2 padding 1 on 7×10", [2, 2, 7, 10], { kernel: 2, padding: 1 }, {
    k: [2, 2],
    s: [2, 2],
    p: [1, 1, 1, 1],
  }, true],
  ["k2 s3 dilation 2 on 11×5 (holes)", [1, 2, 11, 5], { kernel: 2, stride: 3, dilation: 2 }, {
    k: [2, 2],
    s: [3, 3],
    d: [2, 2],
  }, false],
  ["k[7,10] (one window per plane)", [2, 3, 7, 10], { kernel: [7, 10] }, {
    k: [7, 10],
    s: [7, 10],
  }, true],
];

// Keep |x| away from 0 (Lp's kinks) and values distinct (max's ties).
const gen = (r: { next(): number; uniform(a: number, b: number): number }) =>
  (r.next() < 0.5 ? -1 : 1) * r.uniform(0.1, 2);

for (const [name, shape, opts, w, covers] of cases) {
  Deno.test(`disjoint windows ${name}: the scatter path is taken`, () => {
    const g = windowGeometry("t", shape[2], shape[3], opts, opts.kernel);
    assert(windowsDisjoint(g), "windows should be disjoint");
    assert(windowsCover(g) === covers, `cover should be ${covers}`);
  });
  Deno.test(`disjoint windows ${name}: max forward and gradient`, async () => {
    await checkOp((x) => maxPool2d(x, opts), ([x]) => maxRef(x, shape, w).y, [shape], {
      gen,
      probes: 40,
    });
  });
  for (const inc of [true, false]) {
    Deno.test(`disjoint windows ${name}: average (countIncludePad ${inc})`, async () => {
      await checkOp(
        (x) => avgPool2d(x, { ...opts, countIncludePad: inc }),
        ([x]) => avgRef(x, shape, w, inc).y,
        [shape],
        { probes: 40 },
      );
    });
  }
  for (const p of [2, 3]) {
    Deno.test(`disjoint windows ${name}: L${p} forward and gradient`, async () => {
      await checkOp((x) => lpPool2d(x, { ...opts, p }), ([x]) => lpRef(x, shape, w, p).y, [
        shape,
      ], { gen, probes: 40 });
    });
  }
}
