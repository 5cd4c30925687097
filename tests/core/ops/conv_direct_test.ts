/**
 * The direct convolution kernels (core/ops/conv_direct.ts): forward, input gradient and
 * weight and bias gradients against the float64 reference and central differences of it
 * at every coordinate, on sizes that fit no tile: channel counts that are not multiples
 * of 4 or 8, rows of odd, even and multiple-of-4 length (the three store widths), one to
 * nine kernel columns (one to three window texels), rows packed in several pieces, asymmetric padding, a batch spread
 * over two texture layers, and the weight gradient's images split over dispatches and
 * grouped into one invocation's loop (one group, several with a remainder, a group that
 * crosses texture layers).
 */
import { assert } from "../../assert.ts";
import { conv2d, type Conv2dOpOptions } from "../../../core/ops/conv.ts";
import { conv2dReference, convGeometry } from "../../../core/ops/conv_ref.ts";
import {
  directApplies,
  setDirectGradLanes,
  setDirectPartialBytes,
} from "../../../core/ops/conv_direct.ts";
import { initGpu } from "../../../core/gpu.ts";
import type { Tensor } from "../../../core/tensor.ts";
import { checkOp } from "./check.ts";

await initGpu();

async function check(x: number[], w: number[], opts: Conv2dOpOptions, bias = true, probes = 1e9) {
  const geo = convGeometry(x, w, opts);
  assert(directApplies(geo), `direct kernels should take ${JSON.stringify({ x, w, opts })}`);
  const relu = !!opts.relu;
  const ref = (xs: Float64Array[]) => {
    const y = conv2dReference(xs[0], xs[1], xs[2] ?? null, geo);
    return relu ? y.map((v) => Math.max(v, 0)) : y;
  };
  const shapes = bias ? [x, w, [geo.Cout]] : [x, w];
  // Seeded inputs (deterministic); a probe whose step crossed ReLU's kink would show as a
  // gradient error.
  await checkOp((...ts: Tensor[]) => conv2d(ts[0], ts[1], ts[2] ?? null, opts), ref, shapes, {
    tol: 1e-4,
    gradTol: 2e-4,
    probes,
  });
}

Deno.test("direct conv: odd rows (scalar stores), 5 outputs, 3×5 kernel, four different pads", async () => {
  await check([2, 3, 7, 9], [5, 3, 3, 5], { padding: [1, 2, 0, 1] });
});

Deno.test("direct conv: a 5-row kernel on 4 rows (both products skip zero rows), groups on two rows", async () => {
  // Input and output rows of 3 texels: an invocation's two groups of 4 positions may sit on
  // two rows, whose ranges of kernel rows that read data differ.
  await check([2, 3, 4, 10], [5, 3, 5, 3], { padding: [2, 1, 1, 0] });
  await check([1, 2, 3, 9], [3, 2, 5, 5], { padding: 2, relu: true });
});

Deno.test("direct conv: even rows (2-wide stores), fused ReLU, 9 outputs", async () => {
  await check([1, 4, 6, 10], [9, 4, 3, 3], { padding: 1, relu: true });
});

Deno.test("direct conv: rows a multiple of 4 (4-wide stores), 1×1 kernel, no bias", async () => {
  await check([3, 2, 8, 8], [6, 2, 1, 1], {}, false);
});

Deno.test("direct conv: 9 kernel columns (a 3-texel window), 2 rows", async () => {
  await check([1, 2, 5, 12], [4, 2, 2, 9], { padding: [0, 4] });
});

Deno.test("direct conv: rows of 11 and 22 texels (the packs fill a line in pieces of 8)", async () => {
  // x's and dy's padded rows: 11 texels (a full piece and a partial one), then 22 (two
  // full, one partial).
  await check([1, 2, 3, 37], [3, 2, 3, 3], { padding: 1, relu: true }, true, 60);
  await check([1, 1, 3, 83], [2, 1, 3, 3], { padding: 1 }, true, 40);
});

Deno.test("direct conv: a batch over two texture layers, weight gradient over 3 dispatches", async () => {
  const old = setDirectPartialBytes(4 * 3 * (16 * 9 + 1) * 4); // 3 images a dispatch
  try {
    // 16 channels × 32 padded rows = 512 lines an image: 32 images a 16,384-row layer.
    await check([40, 16, 30, 6], [3, 16, 3, 3], { padding: 1 }, true, 48);
  } finally {
    setDirectPartialBytes(old);
  }
});

Deno.test("direct conv: the weight gradient sums groups of images in one invocation", async () => {
  // 40 channels × 32 padded rows = 1,280 lines an image: 12 images a 16,384-row layer, so
  // images 12 and 13 of the input's texture sit on its second layer. (40 + 1) columns × 2 channel tiles = 82
  // invocations an image; 1,148 in all.
  const x = [14, 40, 30, 4], w = [9, 40, 3, 3];
  const oldLanes = setDirectGradLanes(1), oldBytes = setDirectPartialBytes(64 * 2 ** 20);
  try {
    await check(x, w, { padding: 1 }, true, 40); // one group of 14: dW and db written directly
    setDirectGradLanes(229); // groups of 5: 0–4, 5–9, 10–13 (across the layers)
    await check(x, w, { padding: 1 }, true, 40);
    setDirectPartialBytes(2 * 9 * (40 * 9 + 1) * 4); // two groups a dispatch: 10 images, then 4
    await check(x, w, { padding: 1 }, true, 40);
  } finally {
    setDirectGradLanes(oldLanes);
    setDirectPartialBytes(oldBytes);
  }
});

Deno.test("direct conv: an input texture of three full layers, filled by one copy", async () => {
  // 128 channels × 66 padded rows = 8,448 lines an image: one image a 16,384-row layer.
  await check([3, 128, 64, 4], [2, 128, 3, 3], { padding: 1 }, true, 12);
});

Deno.test("direct conv: strided, dilated and grouped convolutions stay on im2col", () => {
  for (
    const [x, w, o] of [
      [[1, 2, 8, 8], [2, 2, 3, 3], { stride: 2 }],
      [[1, 2, 8, 8], [2, 2, 3, 3], { dilation: 2 }],
      [[1, 4, 8, 8], [4, 2, 3, 3], { groups: 2 }],
      [[1, 2, 12, 12], [2, 2, 3, 11], {}],
    ] as [number[], number[], Conv2dOpOptions][]
  ) {
    assert(!directApplies(convGeometry(x, w, o)), `direct should not take ${JSON.stringify(o)}`);
  }
});
