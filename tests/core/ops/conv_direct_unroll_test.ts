/**
 * The direct product without its loop over input channels and kernel rows
 * (`setDirectUnroll` in core/ops/conv_direct_kernels.ts: layers of up to 16 of them) gives
 * the looped kernel's bits — forward, input, weight and bias gradients, with the zero rows of
 * padding skipped, and with the 2×2 max pool fused — and really has no loop. The float64
 * checks of conv_direct_test.ts run the unrolled kernels for their small layers.
 */
import { assert, assertEquals } from "../../assert.ts";
import { backward } from "../../../core/autograd.ts";
import { gpu, initGpu } from "../../../core/gpu.ts";
import { conv2d, conv2dMaxPool2, type Conv2dOpOptions } from "../../../core/ops/conv.ts";
import { convGeometry } from "../../../core/ops/conv_ref.ts";
import { setDirectUnroll } from "../../../core/ops/conv_direct_kernels.ts";
import { mul } from "../../../core/ops/elementwise.ts";
import { sum } from "../../../core/ops/reduce.ts";
import { Rng } from "../../../core/random.ts";
import { fromArray, type Tensor, tidy } from "../../../core/tensor.ts";

await initGpu();

/** [input, weight, options, pooled]: C·KH from 3 to 16. */
const CASES: [number[], number[], Conv2dOpOptions, boolean][] = [
  [[2, 1, 12, 10], [9, 1, 3, 3], { padding: 1 }, false], // grey-scale, zero rows skipped
  [[2, 3, 11, 13], [5, 3, 5, 5], { padding: [2, 0, 1, 1], relu: true }, false], // 3 × 5
  [[1, 4, 9, 9], [6, 4, 3, 3], { padding: 1 }, false], // 4 × 3, input gradient 6 × 3
  [[2, 2, 10, 12], [10, 2, 3, 3], { padding: 1, relu: true }, true], // fused max pool
];

/** Output, gradients and whether each product kernel had a channel loop, under `rows`. */
async function run(x: number[], w: number[], opts: Conv2dOpOptions, pool: boolean, rows: number) {
  const rng = new Rng(9);
  const gen = (shape: number[]) =>
    fromArray(
      Float32Array.from({ length: shape.reduce((p, d) => p * d, 1) }, () => rng.uniform(-1, 1)),
      shape,
    );
  const geo = convGeometry(x, w, opts);
  const xt = gen(x), wt = gen(w), bt = gen([geo.Cout]);
  for (const t of [xt, wt, bt]) t.requiresGrad = true;
  const loops: boolean[] = []; // per product kernel dispatched (the forward's first)
  const old = setDirectUnroll(rows);
  const hook = gpu().setHook({
    dispatch: (d) => {
      if (d.code.includes("var WT")) loops.push(d.code.includes("for (var c = 0u"));
      return undefined;
    },
    command: () => {},
    beforeSubmit: () => {},
  });
  const conv = (): Tensor => pool ? conv2dMaxPool2(xt, wt, bt, opts)! : conv2d(xt, wt, bt, opts);
  const y = tidy(() => {
    const y = conv();
    backward(sum(mul(y, gen([...y.shape]))));
    return y.detach();
  });
  gpu().setHook(hook);
  setDirectUnroll(old);
  const out = await Promise.all([y, xt.grad!, wt.grad!, bt.grad!].map((t) => t.data()));
  for (const t of [xt, wt, bt, y]) (t.grad?.dispose(), t.dispose());
  return { out, loops };
}

Deno.test({
  name: "direct conv: the product unrolled over channels and kernel rows gives the looped bits",
  ignore: gpu().variant !== "cpu", // the direct kernels are the software adapters'
  async fn() {
    for (const [x, w, opts, pool] of CASES) {
      const what = JSON.stringify({ x, w, opts, pool });
      const unrolled = await run(x, w, opts, pool, 16), looped = await run(x, w, opts, pool, 0);
      for (let k = 0; k < 4; k++) {
        assert(unrolled.out[k].some((v) => v !== 0), `${what}: output ${k} is all zeros`);
        assertEquals(unrolled.out[k], looped.out[k], `${what}: output ${k} differs`);
      }
      assertEquals(unrolled.loops[0], false, `${what}: the unrolled forward has a loop`);
      assert(looped.loops.every((l) => l), `${what}: a looped kernel has no loop`);
    }
  },
});
