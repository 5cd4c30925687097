/**
 * The vector path of the windowed pools (`vectorPlan`: windows that tile each row, read as
 * vec4 or vec2 rows, P windows an invocation): max, average and Lp pooling, forward against
 * the float64 references and gradients against finite differences, on shapes that take
 * each vector width, leave rows uncovered, overlap along the height, or skip rows
 * (dilation along the height); and the geometries it must refuse.
 */
import { assert, assertEquals } from "../../assert.ts";
import { checkOp } from "../../core/ops/check.ts";
import { avgPool2d } from "../../../plugins/pooling/average.ts";
import { lpPool2d } from "../../../plugins/pooling/lp.ts";
import { maxPool2d } from "../../../plugins/pooling/max.ts";
import { geometry, type WindowOptions } from "../../../plugins/pooling/window.ts";
import { vectorPlan } from "../../../plugins/pooling/window_vector.ts";
import { avgRef, lpRef, maxRef, type RefWindow } from "./ref.ts";

const cases: [string, number[], WindowOptions, RefWindow, { V: number; P: number }][] = [
  ["k2 on 6×8 (vec4, 2 windows)", [2, 3, 6, 8], { kernel: 2 }, { k: [2, 2], s: [2, 2] }, {
    V: 4,
    P: 2,
  }],
  ["k2 on 5×10 (vec2, last row uncovered)", [2, 3, 5, 10], { kernel: 2 }, {
    k: [2, 2],
    s: [2, 2],
  }, { V: 2, P: 1 }],
  ["k[3,4] s[2,4] on 7×8 (rows overlap)", [1, 2, 7, 8], { kernel: [3, 4], stride: [2, 4] }, {
    k: [3, 4],
    s: [2, 4],
  }, { V: 4, P: 1 }],
  ["k[2,1] on 6×12 (4 windows)", [1, 3, 6, 12], { kernel: [2, 1] }, { k: [2, 1], s: [2, 1] }, {
    V: 4,
    P: 4,
  }],
  ["k2 dilation [2,1] on 8×4", [1, 2, 8, 4], { kernel: 2, dilation: [2, 1] }, {
    k: [2, 2],
    s: [2, 2],
    d: [2, 1],
  }, { V: 4, P: 2 }],
];

const gen = (r: { next(): number; uniform(a: number, b: number): number }) =>
  (r.next() < 0.5 ? -1 : 1) * r.uniform(0.1, 2);

for (const [name, shape, opts, w, plan] of cases) {
  Deno.test(`vector pools ${name}: the vector plan is taken`, () => {
    assertEquals(vectorPlan(geometry("t", shape, opts)), plan);
  });
  Deno.test(`vector pools ${name}: max forward and gradient`, async () => {
    await checkOp((x) => maxPool2d(x, opts), ([x]) => maxRef(x, shape, w).y, [shape], {
      gen,
      probes: 40,
    });
  });
  Deno.test(`vector pools ${name}: average forward and gradient`, async () => {
    await checkOp((x) => avgPool2d(x, opts), ([x]) => avgRef(x, shape, w, true).y, [shape], {
      probes: 40,
    });
  });
  Deno.test(`vector pools ${name}: L2 forward and gradient`, async () => {
    await checkOp((x) => lpPool2d(x, { ...opts, p: 2 }), ([x]) => lpRef(x, shape, w, 2).y, [
      shape,
    ], { gen, probes: 40 });
  });
}

Deno.test("vector pools: padding, strides past the kernel, dilation along rows and ragged rows keep the scalar path", () => {
  const refused: [number[], WindowOptions][] = [
    [[1, 1, 8, 8], { kernel: 2, padding: 1 }],
    [[1, 1, 8, 8], { kernel: 2, stride: 3 }],
    [[1, 1, 8, 8], { kernel: 2, dilation: [1, 2] }],
    [[1, 1, 8, 9], { kernel: 3 }], // 3 does not divide a vector
    [[1, 1, 8, 9], { kernel: 2 }], // the last column is left out
    [[1, 1, 7, 7], { kernel: 2, ceilMode: true }], // the last window leaves the input
  ];
  for (const [shape, opts] of refused) {
    assert(vectorPlan(geometry("t", shape, opts)) === null, JSON.stringify(opts));
  }
});
