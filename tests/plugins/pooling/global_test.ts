/** Global and adaptive average pooling, global max pooling. */
import { assert, assertEquals, assertRejects, assertThrows } from "../../assert.ts";
import { TrainingError } from "../../../core/errors.ts";
import { checkOp } from "../../core/ops/check.ts";
import { gpu, initGpu } from "../../../core/gpu.ts";
import { fromArray } from "../../../core/tensor.ts";
import { AdaptiveAvgPool2d, adaptiveAvgPool2d } from "../../../plugins/pooling/adaptive.ts";
import {
  GlobalAvgPool2d,
  globalAvgPool2d,
  GlobalMaxPool2d,
  globalMaxPool2d,
} from "../../../plugins/pooling/global.ts";
import { adaptiveRef } from "./ref.ts";

const SHAPE = [2, 3, 7, 9];

Deno.test("globalAvgPool2d: forward and gradient on [2,3,7,9]", async () => {
  await checkOp(globalAvgPool2d, ([x]) => adaptiveRef(x, SHAPE, [1, 1]), [SHAPE]);
});

Deno.test("globalMaxPool2d: forward and gradient on [2,3,7,9]", async () => {
  await checkOp(
    globalMaxPool2d,
    ([x]) => {
      const out = new Float64Array(6);
      for (let p = 0; p < 6; p++) out[p] = Math.max(...x.subarray(p * 63, (p + 1) * 63));
      return out;
    },
    [SHAPE],
    { probes: 63 * 6 },
  );
});

// [H, W] → [OH, OW]: upsampling (VGG16 at 150×150: 4×4 → 7×7), non-multiples, identity.
const adaptive: [number[], number[]][] = [
  [[4, 4], [7, 7]],
  [[7, 9], [3, 4]],
  [[7, 9], [7, 9]],
  [[7, 9], [2, 5]],
  [[5, 3], [1, 6]],
  [[9, 7], [4, 1]],
];

for (const [[H, W], out] of adaptive) {
  Deno.test(`adaptiveAvgPool2d [2,3,${H},${W}] → ${out.join("×")}: forward and gradient`, async () => {
    const shape = [2, 3, H, W];
    await checkOp(
      (x) => adaptiveAvgPool2d(x, out as [number, number]),
      ([x]) => adaptiveRef(x, shape, out),
      [shape],
      { probes: 60 },
    );
  });
}

Deno.test("pooling layers: output shapes and errors", async () => {
  await initGpu();
  const x = fromArray(new Float32Array(2 * 3 * 4 * 4), [2, 3, 4, 4]);
  assertEquals([...new AdaptiveAvgPool2d({ output: 7 }).forward(x).shape], [2, 3, 7, 7]);
  assertEquals([...new GlobalAvgPool2d().forward(x).shape], [2, 3, 1, 1]);
  assertEquals([...new GlobalMaxPool2d().forward(x).shape], [2, 3, 1, 1]);
  await assertRejects(() => new AdaptiveAvgPool2d({ output: 0 }), /positive integers/);
  await assertRejects(() => globalMaxPool2d(fromArray([1, 2], [2])), /NCHW/);
});

Deno.test("global pooling of a 300×300 map (past the software adapters' loop limit)", async () => {
  await initGpu();
  const S = 300 * 300, x = Float32Array.from({ length: 2 * S }, (_, i) => ((i * 7919) % 101) / 101);
  const t = fromArray(x, [1, 2, 300, 300]);
  const means = [0, 1].map((p) => x.subarray(p * S, (p + 1) * S).reduce((a, v) => a + v, 0) / S);
  const maxes = [0, 1].map((p) => x.subarray(p * S, (p + 1) * S).reduce((a, v) => Math.max(a, v)));
  for (const y of [globalAvgPool2d(t), adaptiveAvgPool2d(t, [1, 1])]) {
    const got = await y.data();
    for (let p = 0; p < 2; p++) {
      assert(Math.abs(got[p] - means[p]) < 1e-5, `mean of plane ${p}: ${got[p]} vs ${means[p]}`);
    }
  }
  assertEquals([...await globalMaxPool2d(t).data()], maxes);
});

await initGpu();
Deno.test({
  name: "adaptive pooling refuses windows too large for the software adapters' loops",
  ignore: gpu().variant !== "cpu", // only software adapters have the limit
  fn() {
    const x = fromArray(new Float32Array(600 * 600), [1, 1, 600, 600]); // 301 × 301 windows
    assertThrows(() => adaptiveAvgPool2d(x, [2, 2]), TrainingError, "windows of 301×301");
    x.dispose();
  },
});
