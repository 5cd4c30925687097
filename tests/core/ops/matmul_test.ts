import { assert, assertEquals, assertRejects } from "../../assert.ts";
import { gpu, initGpu } from "../../../core/gpu.ts";
import { linear, matmul, setCpuMatmulTile, texturePlanFor } from "../../../core/ops/matmul.ts";
import { Rng } from "../../../core/random.ts";
import { hostHasAvx512 as hostAvx } from "../../../core/gpu_env.ts";
import { fromArray, type Tensor } from "../../../core/tensor.ts";
import { checkOp, relErr } from "./check.ts";
import * as R from "./ref.ts";

/** matmul checked against the float64 reference, result shape included. */
async function checkMatmul(sa: number[], sb: number[], transA = false, transB = false) {
  const want = R.matmul(
    new Float64Array(R.size(sa)),
    sa,
    new Float64Array(R.size(sb)),
    sb,
    transA,
    transB,
  ).shape;
  await checkOp(
    (a, b) => {
      const y = matmul(a, b, { transA, transB });
      assertEquals([...y.shape], want, `matmul [${sa}]·[${sb}] shape`);
      return y;
    },
    ([a, b], [ea, eb]) => R.matmul(a, ea, b, eb, transA, transB).data,
    [sa, sb],
  );
}

const TRANS: [boolean, boolean][] = [[false, false], [true, false], [false, true], [true, true]];
const dimsOf = ([M, K, N]: number[], transA: boolean, transB: boolean) => [
  transA ? [K, M] : [M, K],
  transB ? [N, K] : [K, N],
];

// Every shader variant compiles anew on lavapipe (~0.2 s each, three per check), so each
// transpose combination gets two [M, K, N] triples; together they cover 1, 7, 63, 65, 257.
const MKN: number[][][] = [
  [[1, 257, 7], [63, 65, 257]],
  [[65, 7, 63], [7, 1, 257]],
  [[257, 7, 65], [1, 63, 1]],
  [[63, 65, 7], [7, 257, 1]],
];

TRANS.forEach(([transA, transB], t) => {
  Deno.test(`matmul: 2-D, transA ${transA}, transB ${transB}, odd sizes`, async () => {
    for (const mkn of MKN[t]) {
      const [a, b] = dimsOf(mkn, transA, transB);
      await checkMatmul(a, b, transA, transB);
    }
  });
});

Deno.test("matmul: both texture tiles (8×8, and 16×8 for AVX-512 hosts) match the reference", async () => {
  // Whichever tile this host picks, the other one is checked too: odd sizes past both
  // tiles, all transposes, and a product small enough for the tile to shrink.
  await initGpu();
  for (const t of ["8x8", "16x8"] as const) {
    const old = setCpuMatmulTile(t);
    try {
      const plan = texturePlanFor({
        batch: 1,
        M: 67,
        N: 45,
        K: 37,
        aBatchStride: 0,
        bBatchStride: 0,
        transA: false,
        transB: false,
        bias: false,
        relu: false,
      });
      if (plan) assertEquals(plan.tuning.tm, t === "8x8" ? 8 : 16, `tile ${t}`);
      for (const [transA, transB] of TRANS) {
        const [a, b] = dimsOf([67, 37, 45], transA, transB);
        await checkMatmul(a, b, transA, transB);
      }
      await checkMatmul([5, 3], [3, 6]);
    } finally {
      setCpuMatmulTile(old);
    }
  }
});

// The texture tiles exist only on software adapters: elsewhere the next test is skipped.
await initGpu();
const softwareAdapter = gpu().variant === "cpu";

Deno.test({
  name: "matmul: a batch of 9–16 rows times a large B takes 16×8, with 8×8's bits",
  ignore: !softwareAdapter,
}, async () => {
  // The scene CNN's dense layers at batch 16: one tile of rows instead of two. The tile
  // changes no result, so "auto" must give exactly what a forced 8×8 gives.
  const spec = (M: number, K: number, N: number) => ({
    batch: 1,
    M,
    N,
    K,
    aBatchStride: 0,
    bBatchStride: 0,
    transA: false,
    transB: true,
    bias: false,
    relu: false,
  });
  assertEquals(texturePlanFor(spec(16, 1024, 1024))!.tuning.tm, 16, "16 rows × 1 M of B");
  assertEquals(texturePlanFor(spec(16, 144, 4000))!.tuning.tm, hostAvx() ? 16 : 8, "a small B");
  assertEquals(texturePlanFor(spec(32, 1024, 1024))!.tuning.tm, hostAvx() ? 16 : 8, "32 rows");
  const rng = new Rng(5);
  const a = fromArray(Float32Array.from({ length: 13 * 1030 }, () => rng.normal()), [13, 1030]);
  const w = fromArray(Float32Array.from({ length: 1030 * 1031 }, () => rng.normal()), [1031, 1030]);
  const bits: Float32Array[] = [];
  for (const t of ["auto", "8x8"] as const) {
    const old = setCpuMatmulTile(t);
    try {
      const y = matmul(a, w, { transB: true });
      bits.push(await y.data());
      y.dispose();
    } finally {
      setCpuMatmulTile(old);
    }
  }
  assertEquals(bits[0], bits[1], "auto (16×8) and 8×8 give the same bits");
  const want = R.matmul(
    Float64Array.from(await a.data()),
    [13, 1030],
    Float64Array.from(await w.data()),
    [1031, 1030],
    false,
    true,
  ).data;
  assert(relErr(bits[0], want) < 1e-5, `relative error ${relErr(bits[0], want)}`);
  a.dispose();
  w.dispose();
});

Deno.test("matmul: batched (3-D and 4-D), all transposes", async () => {
  for (const [transA, transB] of TRANS) {
    const [a, b] = dimsOf([7, 65, 63], transA, transB);
    await checkMatmul([3, ...a], [3, ...b], transA, transB);
  }
  await checkMatmul([2, 3, 7, 63], [2, 3, 63, 1]);
});

Deno.test("matmul: large products pack N- and M-major operands K-major (transposed while packing)", async () => {
  // Big enough for the K-major packing (≥ 512 columns of the other operand, K ≥ 257, and
  // for B more than 1024 columns), odd sizes and multiples of 4 (the block transpose);
  // batched with a shared and a per-batch operand.
  await initGpu();
  const spec = { batch: 1, M: 513, N: 1027, K: 259, aBatchStride: 0, bBatchStride: 0 };
  const plan = texturePlanFor(
    { ...spec, transA: true, transB: false, bias: false, relu: false },
    true,
  );
  if (plan) {
    assertEquals([plan.a.place.lines, plan.b.place.lines], [513, 1027], "both operands K-major");
    const narrow = texturePlanFor(
      { ...spec, N: 1024, transA: true, transB: false, bias: false, relu: false },
      true,
    )!;
    assertEquals([narrow.a.place.lines, narrow.b.place.lines], [513, 259], "B N-major to 1024");
  }
  // Forward against the reference only (finite differences at this size cost minutes).
  for (
    const [sa, sb, transA] of [
      [[259, 513], [259, 1027], true],
      [[2, 513, 259], [259, 1027], false],
      [[2, 259, 513], [2, 259, 515], true],
      // Lines a multiple of 4: the 4 × 4 block transpose.
      [[258, 516], [258, 1028], true],
      [[2, 516, 258], [258, 1028], false],
      [[3, 258, 516], [3, 258, 520], true],
    ] as [number[], number[], boolean][]
  ) {
    const a = Float32Array.from({ length: R.size(sa) }, (_, i) => Math.sin(i * 0.37));
    const b = Float32Array.from({ length: R.size(sb) }, (_, i) => Math.cos(i * 0.11));
    const y = matmul(fromArray(a, sa), fromArray(b, sb), { transA });
    const want = R.matmul(Float64Array.from(a), sa, Float64Array.from(b), sb, transA, false);
    const err = relErr(await y.data(), want.data);
    assert(err < 1e-5, `[${sa}]·[${sb}] transA ${transA}: relative error ${err}`);
  }
});

Deno.test("matmul: large A·Bᵀ products transpose a B of up to 1024 rows N-major while packing", async () => {
  await initGpu();
  const spec = { batch: 1, M: 513, N: 1021, K: 259, aBatchStride: 0, bBatchStride: 0 };
  const plan = (N: number, M = 513) =>
    texturePlanFor({ ...spec, M, N, transA: false, transB: true, bias: false, relu: false }, true);
  const p = plan(1021);
  if (p) {
    assertEquals(p.b.place.lines, 259, "B N-major (K lines)");
    assertEquals(plan(1025)!.b.place.lines, 1025, "past 1024 columns B stays K-major");
    assertEquals(plan(1021, 64)!.b.place.lines, 1021, "a small product keeps B's layout");
  }
  for (
    const [sa, sb] of [
      [[513, 259], [1021, 259]],
      [[2, 513, 259], [2, 1021, 259]], // per-batch B
      [[2, 515, 257], [1021, 257]], // shared B
      // Lines (K) a multiple of 4: the 4 × 4 block transpose.
      [[516, 260], [1020, 260]],
      [[3, 516, 260], [3, 1020, 260]],
    ] as [number[], number[]][]
  ) {
    const a = Float32Array.from({ length: R.size(sa) }, (_, i) => Math.sin(i * 0.37));
    const b = Float32Array.from({ length: R.size(sb) }, (_, i) => Math.cos(i * 0.11));
    const y = matmul(fromArray(a, sa), fromArray(b, sb), { transB: true });
    const want = R.matmul(Float64Array.from(a), sa, Float64Array.from(b), sb, false, true);
    const err = relErr(await y.data(), want.data);
    assert(err < 1e-5, `[${sa}]·[${sb}]ᵀ: relative error ${err}`);
  }
});

Deno.test("matmul: a 2-D operand broadcast across the other's batch", async () => {
  for (const [transA, transB] of TRANS) {
    const [a, b] = dimsOf([63, 7, 65], transA, transB);
    // Alternate which side is shared, so both gradient reductions are exercised.
    if (transA === transB) await checkMatmul([3, ...a], b, transA, transB);
    else await checkMatmul(a, [3, ...b], transA, transB);
  }
  await checkMatmul([2, 3, 7, 65], [65, 1]);
});

Deno.test("matmul: 1-D first operand (vector·matrix, batched)", async () => {
  await checkMatmul([7], [7, 65]);
  await checkMatmul([257], [3, 257, 7]);
});

Deno.test("matmul: 1-D second operand (matrix·vector, batched, dot)", async () => {
  await checkMatmul([63, 7], [7]);
  await checkMatmul([3, 65, 7], [7]);
  await checkMatmul([65], [65]);
});

Deno.test("matmul: mismatched inner sizes throw", async () => {
  await initGpu();
  const a = fromArray(new Float32Array(6), [2, 3]), b = fromArray(new Float32Array(8), [4, 2]);
  await assertRejects(() => matmul(a, b), /matmul/);
  a.dispose();
  b.dispose();
});

/** Reference of linear: x·Wᵀ (+ b) (then ReLU), x of any rank ≥ 2 with the features last. */
function refLinear(hasBias: boolean, relu: boolean) {
  return (xs: Float64Array[], shapes: number[][]) => {
    const [x, w] = xs;
    const [out, inn] = shapes[1];
    const n = x.length / inn;
    const y = R.matmul(x, [n, inn], w, [out, inn], false, true).data;
    for (let i = 0; i < y.length; i++) {
      let v = y[i] + (hasBias ? xs[2][i % out] : 0);
      if (relu) v = Math.max(v, 0);
      y[i] = v;
    }
    return y;
  };
}

/**
 * Inputs for the ReLU cases: x and W are odd multiples of 1/16, the bias an even multiple
 * of 1/256, so with an odd inner size every pre-activation is an odd multiple of 1/256
 * (computed exactly in float32). No finite-difference step (≤ 4e-4 in the pre-activation)
 * then crosses the kink at zero, which would make the difference quotient meaningless.
 */
const offKink = (r: Rng, k: number) => (k === 2 ? r.int(65) / 16 - 2 : (2 * r.int(32) - 31) / 16);

/** [n, in, out] per variant; `in` is odd throughout (see `offKink`). */
const NIO: Record<string, number[][]> = {
  "true,false": [[7, 63, 65], [1, 1, 1]],
  "false,false": [[65, 257, 7], [1, 7, 1]],
  "true,true": [[257, 7, 63], [63, 65, 1]],
  "false,true": [[7, 63, 257], [1, 1, 7]],
};

for (const relu of [false, true]) {
  for (const hasBias of [true, false]) {
    Deno.test(`linear: x·Wᵀ${hasBias ? " + b" : ""}${relu ? ", fused ReLU" : ""}`, async () => {
      // Per case: x's shape, W's shape, the result's shape.
      const cases = NIO[`${hasBias},${relu}`].map(([n, i, o]) => [[n, i], [o, i], [n, o]]);
      // A 3-D input (leading axes are batch axes); with bias only, to keep the file fast.
      if (hasBias) cases.push([[2, 7, 63], [65, 63], [2, 7, 65]]);
      for (const [xs, ws, want] of cases) {
        const shapes = hasBias ? [xs, ws, [ws[0]]] : [xs, ws];
        await checkOp(
          (x: Tensor, w: Tensor, b?: Tensor) => {
            const y = linear(x, w, b ?? null, relu);
            assertEquals([...y.shape], want);
            return y;
          },
          refLinear(hasBias, relu),
          shapes,
          { gen: relu ? offKink : undefined },
        );
      }
    });
  }
}
