/**
 * The direct weight gradient within the software adapters' loop limit (core/ops/kernel.ts
 * `SOFTWARE_LOOP_LIMIT`): lavapipe stops every loop of an invocation, silently, once its
 * loops have run 65,535 iterations in all, so an invocation that sums many images, or the
 * rows of one very wide image, must not run that many. Both cases against a float64 dW and
 * db: many images a group (the scene CNN's first layer at batch 16 summed 11 of 16 before
 * the limit was kept), and one image whose rows alone pass the limit.
 */
import { assert } from "../../assert.ts";
import { backward } from "../../../core/autograd.ts";
import { conv2d } from "../../../core/ops/conv.ts";
import { setDirectGradLanes } from "../../../core/ops/conv_direct.ts";
import { setDirectGradAllRows } from "../../../core/ops/conv_direct_grad.ts";
import { initGpu } from "../../../core/gpu.ts";
import { Rng } from "../../../core/random.ts";
import { fromArray } from "../../../core/tensor.ts";
import { relErr } from "./check.ts";

await initGpu();

/** dW and db of an unpadded stride-1 convolution for output gradient `g`, in float64. */
function weightGradRef(
  x: Float32Array,
  g: Float32Array,
  [N, C, H, W]: number[],
  Cout: number,
  K: number,
): { dw: Float64Array; db: Float64Array } {
  const OH = H - K + 1, OW = W - K + 1;
  const dw = new Float64Array(Cout * C * K * K), db = new Float64Array(Cout);
  for (let n = 0; n < N; n++) {
    for (let co = 0; co < Cout; co++) {
      const gb = (n * Cout + co) * OH * OW;
      for (let i = 0; i < OH * OW; i++) db[co] += g[gb + i];
      for (let c = 0; c < C; c++) {
        const xb = (n * C + c) * H * W;
        for (let ky = 0; ky < K; ky++) {
          for (let kx = 0; kx < K; kx++) {
            let s = 0;
            for (let oh = 0; oh < OH; oh++) {
              const gr = gb + oh * OW, xr = xb + (oh + ky) * W + kx;
              for (let ow = 0; ow < OW; ow++) s += g[gr + ow] * x[xr + ow];
            }
            dw[((co * C + c) * K + ky) * K + kx] += s;
          }
        }
      }
    }
  }
  return { dw, db };
}

async function check(shape: number[], Cout: number, K: number): Promise<void> {
  const rng = new Rng(5);
  const [N, C, H, W] = shape, OH = H - K + 1, OW = W - K + 1;
  const rand = (n: number) => Float32Array.from({ length: n }, () => rng.uniform(-1, 1));
  const xs = rand(N * C * H * W), ws = rand(Cout * C * K * K), bs = rand(Cout);
  const gs = rand(N * Cout * OH * OW);
  const x = fromArray(xs, shape), w = fromArray(ws, [Cout, C, K, K]), b = fromArray(bs, [Cout]);
  w.requiresGrad = b.requiresGrad = true;
  const y = conv2d(x, w, b);
  backward(y, fromArray(gs, [N, Cout, OH, OW]));
  const dw = await w.grad!.data(), db = await b.grad!.data();
  for (const t of [x, w, b, y]) t.dispose();
  const ref = weightGradRef(xs, gs, shape, Cout, K);
  const ew = relErr(dw, ref.dw), eb = relErr(db, ref.db);
  assert(ew < 1e-5, `dW relative error ${ew} for ${JSON.stringify(shape)}`);
  assert(eb < 1e-5, `db relative error ${eb} for ${JSON.stringify(shape)}`);
}

Deno.test("direct weight gradient: a group of 48 images stays within the loop limit", async () => {
  // 3 channels × 5 kernel rows + the bias column = 16 lanes, one channel tile: one lane per
  // column, all 48 images in one group were the lane target alone to decide (about 1,800
  // loop iterations an image, 86,000 in all).
  const old = setDirectGradLanes(1), oldRows = setDirectGradAllRows(null);
  try {
    for (const rows of [9, 25]) { // one kernel row an invocation, then all five
      setDirectGradAllRows(rows);
      await check([48, 3, 60, 60], 4, 5);
    }
  } finally {
    setDirectGradLanes(old);
    setDirectGradAllRows(oldRows);
  }
});

Deno.test("direct weight gradient: an image whose rows alone pass the loop limit is split", async () => {
  // 196 output rows × 175 texel steps, in both branches: 68,600 iterations for one image.
  const old = setDirectGradAllRows(null);
  try {
    for (const rows of [9, 25]) {
      setDirectGradAllRows(rows);
      await check([1, 8, 200, 700], 4, 5);
    }
  } finally {
    setDirectGradAllRows(old);
  }
});
