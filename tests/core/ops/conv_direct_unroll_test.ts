/**
 * The direct product without its loop over input channels and kernel rows
 * (`setDirectUnroll` in core/ops/conv_direct_kernels.ts: layers of up to 16 of them) gives
 * the looped kernel's bits — forward, input, weight and bias gradients, with the zero rows of
 * padding skipped, and with the 2×2 max pool fused — and really has no loop. The float64
 * checks of conv_direct_test.ts run the unrolled kernels for their small layers.
 */
import { assert, assertEquals } from "../../assert.ts";
import { gpu, initGpu } from "../../../core/gpu.ts";
import type { Conv2dOpOptions } from "../../../core/ops/conv.ts";
import { setDirectUnroll } from "../../../core/ops/conv_direct_kernels.ts";
import { convRun } from "./conv_direct_run.ts";

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
  const loops: boolean[] = []; // per product kernel dispatched (the forward's first)
  const old = setDirectUnroll(rows);
  try {
    const watch = (code: string) => void loops.push(code.includes("for (var c = 0u"));
    const out = await convRun(x, w, opts, { seed: 9, pool, watch });
    return { out, loops };
  } finally {
    setDirectUnroll(old);
  }
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
