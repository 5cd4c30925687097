/**
 * The direct product's static skipping of multiply-adds that read zeros
 * (`setDirectSkipZeros` in core/ops/conv_direct_kernels.ts): where a tile's groups are whole
 * output rows (rows of 1–4, 5–8 or 13–16 positions), the kernel leaves out the positions past
 * the row's end and the window columns that are the padding's zeros — of the forward's padding
 * and of the input gradient's full padding. Checked against the float64 reference (and central
 * differences of it) under both product tiles, bit for bit against the kernels that do every
 * multiply-add, and by counting the multiply-adds of the kernels dispatched (so the test fails
 * if the skipping stops applying).
 */
import { assert, assertEquals } from "../../assert.ts";
import { gpu, initGpu } from "../../../core/gpu.ts";
import { conv2d, type Conv2dOpOptions } from "../../../core/ops/conv.ts";
import { conv2dReference, convGeometry } from "../../../core/ops/conv_ref.ts";
import { directApplies } from "../../../core/ops/conv_direct.ts";
import { setDirectSkipZeros, setDirectTile } from "../../../core/ops/conv_direct_kernels.ts";
import type { Tensor } from "../../../core/tensor.ts";
import { checkOp } from "./check.ts";
import { convRun } from "./conv_direct_run.ts";

await initGpu();

/** [input shape, weight shape, options]: each has rows whose groups fill whole tiles. */
const CASES: [number[], number[], Conv2dOpOptions][] = [
  [[2, 4, 7, 7], [3, 4, 3, 3], { padding: 1 }], // rows of 7 (2 groups), padding both products
  [[1, 2, 5, 3], [9, 2, 3, 3], { padding: 1, relu: true }], // rows of 3 (1 group)
  [[2, 3, 8, 8], [5, 3, 5, 5], {}], // 4 outputs a row; input gradient: 8 wide, 4 zero columns a side
  [[1, 3, 6, 14], [6, 3, 5, 5], { padding: [0, 2, 1, 0] }], // input gradient 14 wide (4 groups)
  [[2, 3, 14, 14], [10, 3, 3, 3], { padding: 1 }], // rows of 14 (4 groups), as Fashion-MNIST's conv2
];

const TILES = ["8x4", "8x2"] as const;

async function reference(x: number[], w: number[], opts: Conv2dOpOptions) {
  const geo = convGeometry(x, w, opts);
  assert(directApplies(geo), `direct kernels should take ${JSON.stringify({ x, w, opts })}`);
  const ref = (xs: Float64Array[]) => {
    const y = conv2dReference(xs[0], xs[1], xs[2], geo);
    return opts.relu ? y.map((v) => Math.max(v, 0)) : y;
  };
  await checkOp((...ts: Tensor[]) => conv2d(ts[0], ts[1], ts[2], opts), ref, [x, w, [geo.Cout]], {
    tol: 1e-4,
    gradTol: 2e-4,
  });
}

for (const tile of TILES) {
  Deno.test({
    name: `direct conv, ${tile} tile: skipped zero multiply-adds, against the float64 reference`,
    ignore: gpu().variant !== "cpu", // the direct kernels are the software adapters'
    async fn() {
      const old = setDirectTile(tile);
      try {
        for (const [x, w, opts] of CASES) await reference(x, w, opts);
      } finally {
        setDirectTile(old);
      }
    },
  });
}

/** Output and gradients of one forward + backward, and the multiply-adds of its products. */
async function run(x: number[], w: number[], opts: Conv2dOpOptions, skip: boolean) {
  let fmas = 0;
  const old = setDirectSkipZeros(skip);
  try {
    const watch = (code: string) => void (fmas += code.split("fma(").length - 1);
    const out = await convRun(x, w, opts, { seed: 5, watch });
    return { out, fmas };
  } finally {
    setDirectSkipZeros(old);
  }
}

Deno.test({
  name: "direct conv: skipping the zero multiply-adds changes no bit, and does skip",
  ignore: gpu().variant !== "cpu",
  async fn() {
    for (const tile of TILES) {
      const old = setDirectTile(tile);
      try {
        for (const [x, w, opts] of CASES) {
          const on = await run(x, w, opts, true), off = await run(x, w, opts, false);
          const what = `${tile} ${JSON.stringify({ x, w, opts })}`;
          for (let k = 0; k < 4; k++) {
            assert(on.out[k].some((v) => v !== 0), `${what}: output ${k} is all zeros`);
            assertEquals(on.out[k], off.out[k], `${what}: output ${k} differs`);
          }
          // Rows of 14 fill no 8×2 tile (2 groups): nothing to skip there.
          const none = tile === "8x2" && x[3] === 14;
          if (!none) assert(on.fmas < off.fmas, `${what}: ${on.fmas} of ${off.fmas} fmas`);
        }
      } finally {
        setDirectTile(old);
      }
    }
  },
});
