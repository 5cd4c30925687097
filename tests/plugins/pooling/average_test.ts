/** Average pooling: forward against a float64 reference, gradients against finite differences. */
import { assertEquals, assertRejects } from "../../assert.ts";
import { checkOp } from "../../core/ops/check.ts";
import { initGpu } from "../../../core/gpu.ts";
import { fromArray } from "../../../core/tensor.ts";
import { AvgPool2d, avgPool2d, type AvgPoolOptions } from "../../../plugins/pooling/average.ts";
import { avgRef, type RefWindow } from "./ref.ts";

const SHAPE = [2, 3, 7, 9];

const cases: [string, AvgPoolOptions, RefWindow][] = [
  ["kernel 3 (stride 3, the scene CNN's pool)", { kernel: 3 }, { k: [3, 3], s: [3, 3] }],
  ["kernel 3 stride 2 padding 1", { kernel: 3, stride: 2, padding: 1 }, {
    k: [3, 3],
    s: [2, 2],
    p: [1, 1, 1, 1],
  }],
  ["kernel [3,2] stride [2,1] padding [1,0] ceil", {
    kernel: [3, 2],
    stride: [2, 1],
    padding: [1, 0],
    ceilMode: true,
  }, { k: [3, 2], s: [2, 1], p: [1, 0, 1, 0], ceil: true }],
  ["kernel 2 ceil (odd sizes)", { kernel: 2, ceilMode: true }, {
    k: [2, 2],
    s: [2, 2],
    ceil: true,
  }],
  ["kernel 3 stride 2 padding 1 ceil", { kernel: 3, stride: 2, padding: 1, ceilMode: true }, {
    k: [3, 3],
    s: [2, 2],
    p: [1, 1, 1, 1],
    ceil: true,
  }],
  ["dilation 2 padding 2", { kernel: 3, stride: 1, padding: 2, dilation: 2 }, {
    k: [3, 3],
    s: [1, 1],
    p: [2, 2, 2, 2],
    d: [2, 2],
  }],
  ["asymmetric ONNX pads", { kernel: 3, stride: 2, padding: [0, 1, 2, 0] }, {
    k: [3, 3],
    s: [2, 2],
    p: [0, 1, 2, 0],
  }],
  ["padding same_lower", { kernel: 2, stride: 1, padding: "same_lower" }, {
    k: [2, 2],
    s: [1, 1],
    p: [1, 1, 0, 0],
  }],
];

for (const [name, opts, w] of cases) {
  for (const include of [true, false]) {
    Deno.test(`avgPool2d ${name}, countIncludePad ${include}: forward and gradient`, async () => {
      await checkOp(
        (x) => avgPool2d(x, { ...opts, countIncludePad: include }),
        ([x]) => avgRef(x, SHAPE, w, include).y,
        [SHAPE],
        { probes: 40 },
      );
    });
  }
}

Deno.test("avgPool2d: countIncludePad defaults to true (PyTorch) and changes edge divisors", async () => {
  await initGpu();
  const x = fromArray(new Float32Array(9).fill(3), [1, 1, 3, 3]);
  const a = await avgPool2d(x, { kernel: 3, stride: 1, padding: 1 }).data();
  const b = await avgPool2d(x, { kernel: 3, stride: 1, padding: 1, countIncludePad: false }).data();
  assertEquals(Array.from(a), [4 / 3, 2, 4 / 3, 2, 3, 2, 4 / 3, 2, 4 / 3].map(Math.fround));
  assertEquals(Array.from(b), new Array(9).fill(3));
});

Deno.test("AvgPool2d layer: output shape and option errors", async () => {
  await initGpu();
  const x = fromArray(new Float32Array(2 * 3 * 7 * 9), SHAPE);
  const y = new AvgPool2d({ kernel: 3 }).forward(x);
  assertEquals([...y.shape], [2, 3, 2, 3]);
  await assertRejects(() => new AvgPool2d({ kernel: 2, stride: 0 }), /stride must be positive/);
  await assertRejects(() => new AvgPool2d({ kernel: 2, padding: -1 }), /non-negative/);
});
