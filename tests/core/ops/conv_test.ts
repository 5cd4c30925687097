import { assert, assertEquals, assertRejects } from "../../assert.ts";
import { conv2d, type Conv2dOpOptions, setConvChunkBytes } from "../../../core/ops/conv.ts";
import { conv2dReference, convGeometry } from "../../../core/ops/conv_ref.ts";
import { gpu, initGpu } from "../../../core/gpu.ts";
import { fromArray, type Tensor, tidy } from "../../../core/tensor.ts";
import { checkOp } from "./check.ts";
import { directApplies, setConvDirect } from "../../../core/ops/conv_direct.ts";

await initGpu();

/** Checks conv2d (with optional bias) on x, w(, b) shapes against the float64 reference. */
async function check(
  x: number[],
  w: number[],
  opts: Conv2dOpOptions,
  bias: "none" | "tied" | "untied" = "tied",
) {
  const geo = convGeometry(x, w, opts);
  const shapes = [x, w];
  if (bias === "tied") shapes.push([geo.Cout]);
  if (bias === "untied") shapes.push([geo.Cout, geo.OH, geo.OW]);
  const relu = !!opts.relu;
  const ref = (xs: Float64Array[]) => {
    const y = conv2dReference(xs[0], xs[1], xs[2] ?? null, geo);
    return relu ? y.map((v) => Math.max(v, 0)) : y;
  };
  const run = () =>
    checkOp(
      (...ts: Tensor[]) => conv2d(ts[0], ts[1], ts[2] ?? null, opts),
      ref,
      shapes,
      { tol: 1e-4, gradTol: 2e-4, probes: 16 },
    );
  const r = await run();
  // Geometries the direct kernels take also go through im2col, so both stay tested.
  if (directApplies(geo)) {
    const old = setConvDirect(false);
    try {
      await run();
    } finally {
      setConvDirect(old);
    }
  }
  return r;
}

Deno.test("conv2d: 3×3, stride 1, pad 1, tied bias (forward and all gradients)", async () => {
  await check([2, 3, 7, 9], [4, 3, 3, 3], { padding: 1 });
});

Deno.test("conv2d: stride 2, pad 1, dilation 2, odd shapes", async () => {
  await check([2, 3, 7, 9], [5, 3, 3, 3], { stride: 2, padding: 1, dilation: 2 });
});

Deno.test("conv2d: groups 3 with stride, dilation and asymmetric padding", async () => {
  await check([2, 6, 7, 9], [9, 2, 3, 2], {
    stride: [2, 1],
    padding: [1, 0, 2, 1],
    dilation: [1, 2],
    groups: 3,
  });
});

Deno.test("conv2d: groups 2, 8×8 output (4 positions per im2col invocation)", async () => {
  await check([2, 4, 8, 8], [6, 2, 3, 3], { padding: 1, groups: 2 });
});

Deno.test("conv2d: depthwise (groups = channels), no bias", async () => {
  await check([2, 3, 7, 9], [3, 1, 3, 3], { padding: 1, groups: 3 }, "none");
});

Deno.test("conv2d: untied bias (one per output location)", async () => {
  await check([2, 3, 7, 9], [4, 3, 3, 3], { stride: 2, padding: 1 }, "untied");
});

Deno.test("conv2d: fused ReLU", async () => {
  await check([2, 3, 7, 9], [4, 3, 3, 3], { padding: 1, relu: true });
});

Deno.test("conv2d: 'same' padding keeps the size (stride 1) and gives ceil(H/s) (stride 2)", async () => {
  assertEquals(convGeometry([1, 1, 7, 9], [1, 1, 4, 3], { padding: "same" }).OH, 7);
  const g = convGeometry([1, 1, 7, 9], [1, 1, 3, 3], { padding: "same", stride: 2 });
  assertEquals([g.OH, g.OW, g.PT, g.PB], [4, 5, 1, 1]);
  const e = convGeometry([1, 1, 8, 8], [1, 1, 4, 4], { padding: "same" });
  assertEquals([e.PT, e.PB], [1, 2]);
  const l = convGeometry([1, 1, 8, 8], [1, 1, 4, 4], { padding: "same_lower" });
  assertEquals([l.PT, l.PB], [2, 1]);
  await check([2, 2, 7, 9], [3, 2, 4, 3], { padding: "same" });
});

Deno.test("conv2d: output size floor((W − k_eff + 2p)/s) + 1", () => {
  const g = convGeometry([1, 1, 150, 150], [1, 1, 5, 5], {});
  assertEquals([g.OH, g.OW], [146, 146]);
  const s = convGeometry([1, 1, 10, 11], [1, 1, 3, 3], { stride: 3, padding: 1, dilation: 2 });
  assertEquals([s.OH, s.OW], [Math.floor((10 - 5 + 2) / 3) + 1, Math.floor((11 - 5 + 2) / 3) + 1]);
});

Deno.test("conv2d: chunked over images (small column budget) gives the same result", async () => {
  const old = setConvChunkBytes(3 * 1024); // forces chunks of one or two images
  try {
    await check([5, 3, 7, 9], [4, 3, 3, 3], { padding: 1 });
    await check([5, 4, 6, 5], [6, 2, 3, 3], { stride: 2, padding: 1, groups: 2 });
  } finally {
    setConvChunkBytes(old);
  }
});

Deno.test("conv2d: clear errors for mismatched shapes", async () => {
  const x = fromArray(new Float32Array(2 * 3 * 5 * 5), [2, 3, 5, 5]);
  const w = fromArray(new Float32Array(4 * 2 * 3 * 3), [4, 2, 3, 3]);
  await assertRejects(() => conv2d(x, w), /expects 2 input channels/);
  await assertRejects(() => conv2d(x, w, null, { groups: 2 }), /groups 2 must divide/);
  const w7 = fromArray(new Float32Array(1 * 3 * 7 * 7), [1, 3, 7, 7]);
  await assertRejects(() => conv2d(x, w7), /does not fit input 5×5/);
  const w3 = fromArray(new Float32Array(4 * 3 * 3 * 3), [4, 3, 3, 3]);
  await assertRejects(() => conv2d(x, w3, fromArray([1, 2, 3], [3])), /bias \[3\] must be/);
  for (const t of [x, w, w7, w3]) t.dispose();
});

Deno.test("conv2d: no buffers leak across a forward and backward", async () => {
  const { backward } = await import("../../../core/autograd.ts");
  const { sum } = await import("../../../core/ops/reduce.ts");
  const x = fromArray(Float32Array.from({ length: 2 * 3 * 7 * 9 }, (_, i) => Math.sin(i)), [
    2,
    3,
    7,
    9,
  ]);
  const w = fromArray(Float32Array.from({ length: 4 * 3 * 9 }, (_, i) => Math.cos(i)), [
    4,
    3,
    3,
    3,
  ]);
  const b = fromArray([0.1, 0.2, 0.3, 0.4], [4]);
  for (const t of [x, w, b]) t.requiresGrad = true;
  const step = () => tidy(() => backward(sum(conv2d(x, w, b, { padding: 1, relu: true }))));
  step();
  for (const t of [x, w, b]) {
    t.grad?.dispose();
    t.grad = null;
  }
  const before = gpu().stats().liveBuffers, texBefore = gpu().stats().liveTextures;
  step();
  for (const t of [x, w, b]) {
    t.grad?.dispose();
    t.grad = null;
  }
  assert(
    gpu().stats().liveBuffers === before,
    `live buffers ${gpu().stats().liveBuffers} vs ${before}`,
  );
  // The column textures kept for the weight gradient go back to the pool with the graph,
  // and a forward that records nothing keeps none.
  assertEquals(gpu().stats().liveTextures, texBefore, "live textures after backward");
  tidy(() => void conv2d(x, w, b, { padding: 1 }));
  assertEquals(gpu().stats().liveTextures, texBefore, "live textures after a forward");
  x.requiresGrad = w.requiresGrad = b.requiresGrad = false;
  tidy(() => void conv2d(x, w, b, { padding: 1 }));
  assertEquals(gpu().stats().liveTextures, texBefore, "live textures without grad");
  for (const t of [x, w, b]) t.dispose();
});

Deno.test("conv2dImplicit (the measured alternative): forward matches the reference", async () => {
  const { conv2dImplicit } = await import("../../../core/ops/conv_implicit.ts");
  const { relErr } = await import("./check.ts");
  for (
    const [xs, ws, o] of [
      [[2, 3, 7, 9], [5, 3, 3, 3], { stride: 2, padding: 1, dilation: 2 }],
      [[2, 6, 7, 9], [9, 2, 3, 2], { stride: [2, 1], padding: [1, 0, 2, 1], groups: 3 }],
      [[1, 4, 8, 8], [12, 4, 5, 5], { padding: "same" }],
    ] as [number[], number[], Conv2dOpOptions][]
  ) {
    const g = convGeometry(xs, ws, o);
    const xd = Float32Array.from({ length: xs.reduce((p, d) => p * d) }, (_, i) => Math.sin(i));
    const wd = Float32Array.from({ length: ws.reduce((p, d) => p * d) }, (_, i) => Math.cos(i));
    const bd = Float32Array.from({ length: g.Cout }, (_, i) => i / 10);
    const y = tidy(() =>
      conv2dImplicit(fromArray(xd, xs), fromArray(wd, ws), fromArray(bd, [g.Cout]), g)
    );
    const err = relErr(await y.data(), conv2dReference(xd, wd, bd, g));
    y.dispose();
    assert(err < 1e-5, `implicit forward error ${err}`);
  }
});
