/**
 * The direct convolution with its 2×2 max pool fused (`conv2dMaxPool2`): forward against
 * the float64 reference (convolution, ReLU, then the first maximum of each window) and
 * every gradient against central differences of it, on sizes that fit no tile: odd output
 * rows and columns (the pool drops the last), pooled rows of odd and even length (scalar
 * and 2-wide stores), a grey-scale first layer (no input gradient: the weight gradient packs
 * its own output gradient), padding that shares the input gradient's texture and padding
 * that does not; and the geometries it leaves to the unfused ops.
 */
import { assert, assertEquals } from "../../assert.ts";
import { conv2dMaxPool2, type Conv2dOpOptions } from "../../../core/ops/conv.ts";
import { conv2dReference, convGeometry } from "../../../core/ops/conv_ref.ts";
import { gpu, initGpu } from "../../../core/gpu.ts";
import { fromArray, type Tensor, tidy } from "../../../core/tensor.ts";
import { checkOp } from "./check.ts";

await initGpu();

/** 2×2 stride-2 max pool (floor mode) of y [N][M][OH][OW], float64. */
function pool2(y: Float64Array, N: number, M: number, OH: number, OW: number): Float64Array {
  const PH = Math.floor(OH / 2), PW = Math.floor(OW / 2);
  const out = new Float64Array(N * M * PH * PW);
  for (let nm = 0; nm < N * M; nm++) {
    for (let ph = 0; ph < PH; ph++) {
      for (let pw = 0; pw < PW; pw++) {
        let best = -Infinity;
        for (const [dy, dx] of [[0, 0], [0, 1], [1, 0], [1, 1]]) {
          best = Math.max(best, y[(nm * OH + 2 * ph + dy) * OW + 2 * pw + dx]);
        }
        out[(nm * PH + ph) * PW + pw] = best;
      }
    }
  }
  return out;
}

async function check(
  x: number[],
  w: number[],
  opts: Conv2dOpOptions,
  bias = true,
  inputGrad = true,
) {
  const geo = convGeometry(x, w, opts);
  const ref = (xs: Float64Array[]) => {
    const y = conv2dReference(xs[0], xs[1], xs[2] ?? null, geo);
    const r = opts.relu ? y.map((v) => Math.max(v, 0)) : y;
    return pool2(r, geo.N, geo.Cout, geo.OH, geo.OW);
  };
  const shapes = bias ? [x, w, [geo.Cout]] : [x, w];
  await checkOp(
    (...ts: Tensor[]) => {
      const y = conv2dMaxPool2(ts[0], ts[1], ts[2] ?? null, opts);
      assert(y, "the fused op should apply");
      return y;
    },
    ref,
    shapes,
    { tol: 1e-4, gradTol: 2e-4, noGrad: inputGrad ? [] : [0] },
  );
}

Deno.test("conv + max pool: odd rows and columns, odd pooled rows (scalar stores), ReLU", async () => {
  await check([2, 3, 7, 9], [5, 3, 3, 3], { padding: 1, relu: true });
});

Deno.test("conv + max pool: even pooled rows (2-wide stores), no bias, no ReLU", async () => {
  await check([1, 4, 6, 10], [9, 4, 3, 3], { padding: [1, 2] }, false);
});

Deno.test("conv + max pool: grey-scale first layer (no input gradient), 12 outputs", async () => {
  await check([3, 1, 12, 8], [12, 1, 3, 3], { padding: 1, relu: true }, true, false);
});

Deno.test("conv + max pool: rows of 11 texels (the packs fill a line in pieces of 8)", async () => {
  // Rows a multiple of 4 long: the last texel holds data, not only padding.
  await check([1, 2, 4, 40], [2, 2, 3, 3], { padding: 1, relu: true });
  await check([1, 1, 4, 44], [3, 1, 3, 3], { padding: 1 }, true, false);
});

Deno.test("conv + max pool: 5×5 unpadded (the input gradient's texture shared at texel 1)", async () => {
  await check([1, 2, 11, 14], [3, 2, 5, 5], { relu: true });
});

Deno.test("conv + max pool: equals the convolution then maxPool2d, winners included", async () => {
  // Many ties (ReLU zeros, repeated values): the first maximum must win in both.
  const { maxPool2d } = await import("../../../plugins/pooling/max.ts");
  const { conv2d } = await import("../../../core/ops/conv.ts");
  const { backward } = await import("../../../core/autograd.ts");
  const { sum } = await import("../../../core/ops/reduce.ts");
  const xs = Float32Array.from({ length: 2 * 2 * 8 * 8 }, (_, k) => ((k * 7) % 5) - 2);
  const ws = Float32Array.from({ length: 3 * 2 * 9 }, (_, k) => ((k * 3) % 4) - 1.5);
  const run = async (fused: boolean) => {
    const x = fromArray(xs, [2, 2, 8, 8]), w = fromArray(ws, [3, 2, 3, 3]);
    x.requiresGrad = w.requiresGrad = true;
    const o = { padding: 1, relu: true };
    const y = tidy(() => {
      const y = fused ? conv2dMaxPool2(x, w, null, o)! : maxPool2d(conv2d(x, w, null, o), {
        kernel: 2,
      });
      backward(sum(y));
      return y.detach();
    });
    const out = [await y.data(), await x.grad!.data(), await w.grad!.data()];
    for (const t of [x, w, y]) t.dispose();
    return out;
  };
  const [a, b] = [await run(true), await run(false)];
  for (let k = 0; k < 3; k++) assertEquals([...a[k]], [...b[k]]);
});

Deno.test("conv + max pool: left to the unfused ops where it does not apply", () => {
  tidy(() => {
    const x = fromArray(new Float32Array(2 * 27), [1, 2, 3, 9]);
    const w = fromArray(new Float32Array(2 * 2 * 9), [2, 2, 3, 3]);
    assertEquals(conv2dMaxPool2(x, w, null, { padding: [0, 1] }), null, "one output row");
    const x2 = fromArray(new Float32Array(2 * 64), [1, 2, 8, 8]);
    assertEquals(conv2dMaxPool2(x2, w, null, { stride: 2 }), null, "strided");
  });
  assert(gpu());
});
