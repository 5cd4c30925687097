/**
 * Long loops on the software adapters: lavapipe stops every loop of an invocation, silently,
 * once its loops have run 65,535 iterations in all (`SOFTWARE_LOOP_LIMIT`, core/ops/kernel.ts).
 * Reductions of more elements than that, and products with K past it (K / 4 for the texture
 * kernel), against float64; and products whose operands span several texture layers a
 * matrix (more than 16,384 lines), whose texel addresses lost a pair of parentheses
 * (texture_layout.ts `address`: the layer of line `kt * 4u + q` was taken as kt · 4). Each
 * case failed before (a sum of 300,000 ones read 65,535).
 */
import { assert } from "../../assert.ts";
import { initGpu } from "../../../core/gpu.ts";
import { batchNorm } from "../../../core/ops/batchnorm.ts";
import { conv2d } from "../../../core/ops/conv.ts";
import { conv2dReference, convGeometry } from "../../../core/ops/conv_ref.ts";
import { matmul, setCpuMatmulKernel } from "../../../core/ops/matmul.ts";
import { max, mean, sum } from "../../../core/ops/reduce.ts";
import { accumulateStats, statsAccumulator } from "../../../core/ops/accuracy.ts";
import { Rng } from "../../../core/random.ts";
import { fromArray } from "../../../core/tensor.ts";
import { relErr } from "./check.ts";
import * as R from "./ref.ts";

await initGpu();

const rand = (n: number, rng: Rng) => Float32Array.from({ length: n }, () => rng.uniform(-1, 1));

Deno.test("reductions of more elements than one invocation may loop over", async () => {
  const rng = new Rng(3);
  const n = 300_001, x = rand(n, rng), t = fromArray(x, [n]);
  let s = 0, m = -Infinity;
  for (const v of x) (s += v), (m = Math.max(m, v));
  assert(relErr(await sum(t).data(), [s]) < 1e-5, "sum of 300,001");
  assert(relErr(await mean(t).data(), [s / n]) < 1e-5, "mean of 300,001");
  assert((await max(t).data())[0] === m, "max of 300,001");
  // Over the leading axis of [70,000, 3] (strided) and the trailing one of [3, 70,000].
  const rows = 70_000, a = rand(rows * 3, rng);
  const byCol = [0, 1, 2].map((c) => {
    let v = 0;
    for (let r = 0; r < rows; r++) v += a[r * 3 + c];
    return v;
  });
  assert(relErr(await sum(fromArray(a, [rows, 3]), 0).data(), byCol) < 1e-5, "sum over axis 0");
  const byRow = [0, 1, 2].map((r) => a.slice(r * rows, (r + 1) * rows).reduce((p, v) => p + v, 0));
  assert(relErr(await sum(fromArray(a, [3, rows]), 1).data(), byRow) < 1e-5, "sum over axis 1");
});

/** op(A)·B against the float64 reference, A stored [K][M] when `transA`, B [K][N]. */
async function checkProduct(M: number, K: number, N: number, transA: boolean): Promise<void> {
  const rng = new Rng(M + K + N);
  const sa = transA ? [K, M] : [M, K], a = rand(M * K, rng), b = rand(K * N, rng);
  const c = await matmul(fromArray(a, sa), fromArray(b, [K, N]), { transA }).data();
  const want = R.matmul(Float64Array.from(a), sa, Float64Array.from(b), [K, N], transA).data;
  const e = relErr(c, want);
  // A float32 sum of 300,000 products in order drifts by about 1e-5 of the largest output;
  // the truncated loops were off by 0.1 to 1.
  assert(e < 1e-4, `${M}×${K}×${N}${transA ? " (Aᵀ stored)" : ""}: relative error ${e}`);
}

Deno.test("matmul: K past the loop limit, and operands spanning texture layers", async () => {
  await checkProduct(8, 300_000, 8, false); // K / 4 = 75,000 steps
  await checkProduct(8, 300_000, 8, true);
  await checkProduct(64, 16_388, 64, true); // A's 16,388 lines: two layers
  await checkProduct(64, 40_000, 64, false); // B's 40,000 lines: three layers
  const old = setCpuMatmulKernel("storage");
  try {
    await checkProduct(8, 300_000, 8, false);
    await checkProduct(8, 300_000, 8, true);
  } finally {
    setCpuMatmulKernel(old);
  }
});

Deno.test("accuracy statistics of a batch with more rows × classes than one loop may run", async () => {
  // 300,000 iterations (a short class loop is unrolled by LLVM and counts nothing: many classes).
  const rng = new Rng(4), n = 1_000, C = 300;
  const s = rand(n * C, rng);
  const y = Float32Array.from({ length: n }, () => Math.floor(rng.uniform(0, C)));
  let right = 0;
  for (let r = 0; r < n; r++) {
    let best = 0;
    for (let c = 1; c < C; c++) if (s[r * C + c] > s[r * C + best]) best = c;
    if (best === y[r]) right++;
  }
  const acc = statsAccumulator();
  accumulateStats(
    acc,
    fromArray(new Float32Array([0.5]), [1]),
    fromArray(s, [n, C]),
    fromArray(y, [n]),
  );
  const got = await acc.data();
  acc.dispose();
  assert(
    got[0] === 0.5 * n && got[1] === right && got[2] === n,
    `stats ${got} want ${[0.5 * n, right, n]}`,
  );
});

Deno.test("im2col reads an input of more than 16,384 lines an image (two texture layers)", async () => {
  // 130 channels × 130 rows = 16,900 lines; stride 2 keeps it off the direct kernels.
  const rng = new Rng(6), xs = [1, 130, 130, 8], ws = [4, 130, 3, 3];
  const x = rand(130 * 130 * 8, rng), w = rand(4 * 130 * 9, rng);
  const geo = convGeometry(xs, ws, { stride: 2 });
  const want = conv2dReference(Float64Array.from(x), Float64Array.from(w), null, geo);
  const got = await conv2d(fromArray(x, xs), fromArray(w, ws), null, { stride: 2 }).data();
  const e = relErr(got, want);
  assert(e < 1e-5, `strided conv over two layers: relative error ${e}`);
});

Deno.test("batch norm statistics of a channel of 300,001 values (an odd plane)", async () => {
  const rng = new Rng(7), W = 300_001;
  const x = Float32Array.from({ length: 2 * W }, () => rng.uniform(-1, 1) + 3);
  const y = await batchNorm(fromArray(x, [1, 2, 1, W]), null, null, null, null, { training: true })
    .data();
  const want = new Float64Array(2 * W);
  for (let c = 0; c < 2; c++) {
    const v = x.subarray(c * W, (c + 1) * W);
    const m = v.reduce((p, a) => p + a, 0) / W;
    const s = Math.sqrt(v.reduce((p, a) => p + (a - m) ** 2, 0) / W + 1e-5);
    v.forEach((a, i) => (want[c * W + i] = (a - m) / s));
  }
  const e = relErr(y, want);
  assert(e < 1e-5, `normalised values: relative error ${e}`);
});
