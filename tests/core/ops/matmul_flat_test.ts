/**
 * Operands read flat (`flatPlace` in core/ops/texture_layout.ts): on software adapters an
 * operand whose lines are whole vec4s but not a multiple of 64 floats is copied as it is
 * into a flat texture, where it went through a staging kernel and its copies. Checked
 * against the float64 reference in every transpose form, batched (per-batch and shared
 * operands), the flat texture over several layers, and the fused linear layer's gradients.
 */
import { assert, assertEquals } from "../../assert.ts";
import { backward } from "../../../core/autograd.ts";
import { gpu, initGpu } from "../../../core/gpu.ts";
import { linear, matmul, setFlatOperands, texturePlanFor } from "../../../core/ops/matmul.ts";
import { mul } from "../../../core/ops/elementwise.ts";
import { sum } from "../../../core/ops/reduce.ts";
import { setFlatMaxRows } from "../../../core/ops/texture_read.ts";
import { fromArray, tidy } from "../../../core/tensor.ts";
import { checkOp, relErr } from "./check.ts";
import * as R from "./ref.ts";

const plain = { bias: false, relu: false };

/** Kinds of the first pack step of A and B as gemmInto plans them (it packs both). */
function firstSteps(spec: Parameters<typeof texturePlanFor>[0]): [string, string] | null {
  const p = texturePlanFor(spec, true);
  return p && [p.a.steps[0].kind, p.b.steps[0].kind];
}

/** matmul of [sa]·[sb] against the float64 reference (forward only). */
async function checkForward(sa: number[], sb: number[], transA: boolean, transB: boolean) {
  const a = Float32Array.from({ length: R.size(sa) }, (_, i) => Math.sin(i * 0.37));
  const b = Float32Array.from({ length: R.size(sb) }, (_, i) => Math.cos(i * 0.11));
  const y = matmul(fromArray(a, sa), fromArray(b, sb), { transA, transB });
  const want = R.matmul(Float64Array.from(a), sa, Float64Array.from(b), sb, transA, transB);
  assertEquals([...y.shape], want.shape, `[${sa}]·[${sb}] shape`);
  const err = relErr(await y.data(), want.data);
  y.dispose();
  assert(err < 1e-5, `[${sa}]·[${sb}] transA ${transA} transB ${transB}: relative error ${err}`);
}

Deno.test("matmul: operands with lines of whole vec4s (not 64 floats) are read flat, every transpose", async () => {
  await initGpu();
  if (gpu().variant !== "cpu") return; // real GPUs read storage buffers
  const spec = { batch: 1, M: 20, N: 44, K: 36, aBatchStride: 0, bBatchStride: 0, ...plain };
  // Stored layouts (A [M][K], Bᵀ [N][K]; Aᵀ [K][M], B [K][N]) go flat; the transposing
  // packs keep their kernels; lines that are not whole vec4s are staged as before.
  assertEquals(firstSteps({ ...spec, transA: false, transB: true }), ["flat", "flat"]);
  assertEquals(firstSteps({ ...spec, transA: true, transB: false }), ["flat", "flat"]);
  assertEquals(firstSteps({ ...spec, K: 37, transA: false, transB: true }), ["stage", "stage"]);
  // Lines of 64 floats are copied straight, as before.
  assertEquals(firstSteps({ ...spec, K: 64, transA: false, transB: true }), ["copy", "copy"]);
  for (const [transA, transB] of [[false, false], [true, false], [false, true], [true, true]]) {
    const [M, K, N] = [20, 36, 44];
    await checkForward(transA ? [K, M] : [M, K], transB ? [N, K] : [K, N], transA, transB);
    // Rows past every tile, odd counts of lines.
    const [m, k, n] = [67, 132, 28];
    await checkForward(transA ? [k, m] : [m, k], transB ? [n, k] : [k, n], transA, transB);
  }
  // Batched: per-batch A and B; a shared B; a shared A.
  await checkForward([3, 20, 36], [3, 36, 44], false, false);
  await checkForward([3, 20, 36], [44, 36], false, true);
  await checkForward([36, 20], [3, 36, 44], true, false);
});

Deno.test("matmul: a flat operand over several texture layers (lines crossing layers)", async () => {
  await initGpu();
  if (gpu().variant !== "cpu") return;
  // 2 rows of 1,024 texels a layer: a [40, 600] operand (6,000 texels) spans 3 layers, its
  // lines of 150 texels crossing rows and layers.
  const old = setFlatMaxRows(2);
  try {
    const spec = { batch: 1, M: 40, N: 24, K: 600, aBatchStride: 0, bBatchStride: 0, ...plain };
    const p = texturePlanFor({ ...spec, transA: false, transB: true }, true);
    if (p) {
      assertEquals(p.a.place.flat, { stride: 0, rows: 2, layers: 3 }, "A over 3 layers");
    }
    await checkForward([40, 600], [24, 600], false, true);
    await checkForward([600, 40], [600, 24], true, false);
    await checkForward([2, 40, 600], [2, 600, 24], false, false);
  } finally {
    setFlatMaxRows(old);
  }
});

Deno.test("linear: flat weights (rows of 36 inputs) match the reference and its gradients", async () => {
  // The dense layers of the scene CNN have rows of 144, 4,000 and 1,000 inputs: flat in
  // the forward (x·Wᵀ) and in both products of the backward.
  await checkOp(
    (x, w, b) => linear(x, w, b, true),
    ([x, w, b], [sx, sw]) => {
      const [n, k] = sx, m = sw[0], y = new Float64Array(n * m);
      for (let i = 0; i < n; i++) {
        for (let j = 0; j < m; j++) {
          let s = b[j];
          for (let q = 0; q < k; q++) s += x[i * k + q] * w[j * k + q];
          y[i * m + j] = Math.max(0, s);
        }
      }
      return y;
    },
    [[16, 36], [40, 36], [40]],
  );
});

Deno.test("linear: flat operands give the staged packs' bits (forward and both gradients)", async () => {
  await initGpu();
  if (gpu().variant !== "cpu") return;
  // The scene CNN's first dense layer in miniature: rows of 144 inputs, batch 16.
  const spec = { batch: 1, M: 16, N: 52, K: 144, aBatchStride: 0, bBatchStride: 0, ...plain };
  assertEquals(firstSteps({ ...spec, transA: false, transB: true }), ["flat", "flat"]);
  const old = setFlatOperands(false);
  assertEquals(firstSteps({ ...spec, transA: false, transB: true }), ["stage", "stage"]);
  setFlatOperands(old);
  const run = async (flat: boolean) => {
    const old = setFlatOperands(flat);
    const gen = (n: number, f: number) =>
      Float32Array.from({ length: n }, (_, i) => Math.sin(i * f));
    const x = fromArray(gen(16 * 144, 0.31), [16, 144]),
      w = fromArray(gen(52 * 144, 0.17), [52, 144]);
    const b = fromArray(gen(52, 0.7), [52]), seed = fromArray(gen(16 * 52, 0.05), [16, 52]);
    for (const t of [x, w, b]) t.requiresGrad = true;
    const y = tidy(() => {
      const y = linear(x, w, b, true);
      backward(sum(mul(y, seed)));
      return y.detach();
    });
    setFlatOperands(old);
    const out = await Promise.all([y, x.grad!, w.grad!, b.grad!].map((t) => t.data()));
    for (const t of [x, w, b, seed, y]) (t.grad?.dispose(), t.dispose());
    return out;
  };
  const a = await run(true), b = await run(false);
  for (let k = 0; k < a.length; k++) assertEquals([...a[k]], [...b[k]], `output ${k}`);
});
