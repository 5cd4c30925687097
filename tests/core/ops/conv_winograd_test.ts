/**
 * Winograd F(6×6, 3×3), F(4×4, 3×3) and F(2×2, 3×3) (core/ops/conv_winograd.ts), the
 * no-gradient path: the transforms against direct correlation in float64, and
 * outputs against the float64 reference on sizes that fit no tile — output rows and columns
 * that leave partial tiles, channel counts that are not multiples of 4, tile counts that are not multiples
 * of 4, asymmetric padding, bias and fused ReLU or neither, and images split into chunks —
 * M read through a texture (Cout a multiple of 64) and from its buffer (others), over
 * several texture layers; U read N-major (Cout a multiple of 4, the default) and K-major; the fused 2×2 max pool bit for bit against the convolution then `maxPool2d`, and the
 * routing: recorded gradients, other kernels and few channels stay elsewhere. The input
 * transform reads x's flat copy where x's size is a multiple of 4 (rows of any length and
 * alignment, the padding as zeros) and a padded-row texture otherwise; `check` runs both
 * and compares them bit for bit.
 */
import { assert, assertEquals } from "../../assert.ts";
import { conv2d, conv2dMaxPool2, type Conv2dOpOptions } from "../../../core/ops/conv.ts";
import { maxPool2d } from "../../../plugins/pooling/max.ts";
import { conv2dReference, convGeometry } from "../../../core/ops/conv_ref.ts";
import {
  setWinogradChunkBytes,
  setWinogradFlatInput,
  setWinogradNMajorU,
  setWinogradTile,
  setWinogradWeightCache,
  winogradApplies,
  winogradTileFor,
  winogradTransforms,
} from "../../../core/ops/conv_winograd.ts";
import { gpu, initGpu } from "../../../core/gpu.ts";
import { noGrad } from "../../../core/tape.ts";
import { Rng } from "../../../core/random.ts";
import { fromArray, tidy } from "../../../core/tensor.ts";
import { place } from "../../../core/ops/texture_layout.ts";
import { relErr } from "./check.ts";

await initGpu();

async function check(xs: number[], ws: number[], opts: Conv2dOpOptions, bias = true) {
  const geo = convGeometry(xs, ws, opts);
  assert(winogradApplies(geo, false), `Winograd should take ${JSON.stringify({ xs, ws, opts })}`);
  const rng = new Rng(xs.length + ws[0]);
  const draw = (n: number) => Float32Array.from({ length: n }, () => rng.uniform(-1, 1));
  const xd = draw(xs.reduce((p, d) => p * d)), wd = draw(ws.reduce((p, d) => p * d));
  const bd = Float32Array.from({ length: ws[0] }, (_, i) => (i % 7) / 10 - 0.3);
  // The input transform reads x's flat copy (x's size a multiple of 4) or a padded-row
  // texture: both read the same floats, so the outputs must match bit for bit.
  const outs: Float32Array[] = [];
  for (const flat of [true, false]) {
    const old = setWinogradFlatInput(flat);
    try {
      const y = tidy(() =>
        noGrad(() =>
          conv2d(fromArray(xd, xs), fromArray(wd, ws), bias ? fromArray(bd, [ws[0]]) : null, opts)
        )
      );
      outs.push(await y.data());
      y.dispose();
    } finally {
      setWinogradFlatInput(old);
    }
  }
  const ref = conv2dReference(xd, wd, bias ? bd : null, geo);
  const want = opts.relu ? ref.map((v) => Math.max(v, 0)) : ref;
  const err = relErr(outs[0], want);
  assert(err < 1e-5, `${JSON.stringify({ xs, ws, opts })}: relative error ${err}`);
  assertEquals(outs[0], outs[1], `${JSON.stringify({ xs, ws })}: flat and padded input differ`);
}

for (const m of [6, 4, 2] as const) {
  const tile = async (f: () => Promise<void>) => {
    const old = setWinogradTile(m);
    try {
      await f();
    } finally {
      setWinogradTile(old);
    }
  };
  Deno.test(`winograd F(${m}×${m}) conv: odd output sizes, 65 outputs, pad 1, bias`, () =>
    tile(async () => {
      await check([2, 64, 7, 9], [65, 64, 3, 3], { padding: 1 });
    }));
  Deno.test(`winograd F(${m}×${m}) conv: no padding, 66 inputs, fused ReLU, no bias`, () =>
    tile(async () => {
      await check([1, 66, 7, 5], [64, 66, 3, 3], { relu: true }, false); // a 5×3 output
    }));
  Deno.test(`winograd F(${m}×${m}) conv: asymmetric padding, even sizes, fused ReLU and bias`, () =>
    tile(async () => {
      await check([3, 68, 8, 10], [72, 68, 3, 3], { padding: [0, 2, 1, 0], relu: true });
    }));
  Deno.test(`winograd F(${m}×${m}) conv: images in chunks of one`, () =>
    tile(async () => {
      const old = setWinogradChunkBytes(16 * 64 * 4 * 5 * 4); // F(2×2)'s V of one image (F(4×4)'s: less)
      try {
        await check([3, 64, 7, 9], [64, 64, 3, 3], { padding: 1 });
      } finally {
        setWinogradChunkBytes(old);
      }
    }));
}

Deno.test("winograd conv: U K-major (lines of C), written by the transform or packed from a buffer", async () => {
  const old = setWinogradNMajorU(false);
  try {
    await check([2, 64, 7, 9], [64, 64, 3, 3], { padding: 1 }); // straight into the texture
    await check([1, 66, 7, 5], [64, 66, 3, 3], { relu: true }, false); // C = 66: a U buffer
  } finally {
    setWinogradNMajorU(old);
  }
});

Deno.test("winograd conv: M's texture spans several array layers (66×66 outputs, F(2×2))", async () => {
  // 33 × 33 tiles: 16 matrices of 1,089 lines, more than one layer holds at 8,192 or 16,384.
  const g = gpu(), lim = { maxDim: g.maxTextureDim, maxLayers: g.maxTextureLayers };
  assert(place(16, 33 * 33, 64, lim)!.size.layers > 1, "the placement should span layers");
  const old = setWinogradTile(2);
  try {
    await check([1, 64, 66, 66], [64, 64, 3, 3], { padding: 1, relu: true });
  } finally {
    setWinogradTile(old);
  }
});

/**
 * conv2dMaxPool2 on the Winograd path equals conv2d then maxPool2d bit for bit: values with
 * many ties (ReLU's zeros, small integers) and a NaN (which the transforms spread over the
 * tiles whose patches hold it).
 */
async function checkPooled(xs: number[], ws: number[], opts: Conv2dOpOptions, bias = true) {
  const geo = convGeometry(xs, ws, opts);
  assert(winogradApplies(geo, false), `Winograd should take ${JSON.stringify({ xs, ws, opts })}`);
  const rng = new Rng(xs[2] + ws[0]);
  const xd = Float32Array.from({ length: xs.reduce((p, d) => p * d) }, () => rng.int(5) - 2);
  xd[7] = NaN;
  const wd = Float32Array.from({ length: ws.reduce((p, d) => p * d) }, () => rng.int(3) - 1);
  const bd = Float32Array.from({ length: ws[0] }, (_, i) => (i % 3) - 1);
  const [fused, plain] = noGrad(() =>
    tidy(() => {
      const x = fromArray(xd, xs), w = fromArray(wd, ws), b = bias ? fromArray(bd, [ws[0]]) : null;
      const f = conv2dMaxPool2(x, w, b, opts);
      assert(f, "the fused op should apply");
      return [f.keep(), maxPool2d(conv2d(x, w, b, opts), { kernel: 2 }).keep()];
    })
  );
  assertEquals(fused.shape, [geo.N, geo.Cout, Math.floor(geo.OH / 2), Math.floor(geo.OW / 2)]);
  const [a, b] = [await fused.data(), await plain.data()];
  fused.dispose();
  plain.dispose();
  assertEquals(new Uint32Array(a.buffer), new Uint32Array(b.buffer));
}

for (const m of [6, 4, 2] as const) {
  Deno.test(`winograd F(${m}×${m}) conv + 2×2 max pool: bit for bit the two ops, odd and even sizes`, async () => {
    const old = setWinogradTile(m);
    try {
      await checkPooled([2, 64, 9, 11], [65, 64, 3, 3], { padding: 1, relu: true }); // drops the last row, column
      await checkPooled([1, 66, 10, 14], [64, 66, 3, 3], { padding: [0, 1], relu: true }, false);
      await checkPooled([1, 64, 7, 8], [64, 64, 3, 3], {}); // no ReLU: negative maxima
    } finally {
      setWinogradTile(old);
    }
  });
}

Deno.test("winograd transforms: Aᵀ[(G g) ⊙ (Bᵀ d)] is the 3-tap correlation, in float64", () => {
  const rng = new Rng(5);
  for (const m of [2, 4, 6]) {
    const { a, BT, G, AT } = winogradTransforms(m);
    const mul = (M: number[][], v: number[]) =>
      M.map((row) => row.reduce((s, c, k) => s + c * v[k], 0));
    for (let trial = 0; trial < 5; trial++) {
      const g = [0, 1, 2].map(() => rng.uniform(-1, 1));
      const d = [...Array(a)].map(() => rng.uniform(-1, 1));
      const gg = mul(G, g), dd = mul(BT, d);
      const y = mul(AT, gg.map((v, k) => v * dd[k]));
      for (let i = 0; i < m; i++) {
        const want = g[0] * d[i] + g[1] * d[i + 1] + g[2] * d[i + 2];
        assert(Math.abs(y[i] - want) < 1e-12, `F(${m}, 3) output ${i}: ${y[i]} vs ${want}`);
      }
    }
  }
});

Deno.test("winograd conv: per layer the tile with fewer multiplies (F(6×6) at VGG16's sizes, F(4×4) at 14)", () => {
  const side = (h: number, w = h) => {
    const geo = convGeometry([1, 64, h, w], [64, 64, 3, 3], { padding: 1 });
    assert(winogradApplies(geo, false), `size ${h}`);
    return winogradTileFor(geo);
  };
  assertEquals(side(12, 150), 6);
  assertEquals(side(8, 8), 4); // 4 tiles × 36 = 144 against 4 × 64 = 256
  assertEquals([150, 75, 37, 18, 9, 14].map((h) => side(h)), [6, 6, 6, 6, 6, 4]);
});

Deno.test("winograd conv: a frozen layer's transformed weights are kept until its weights change", async () => {
  const xs = [1, 64, 6, 6], ws = [64, 64, 3, 3], opts = { padding: 1 };
  const geo = convGeometry(xs, ws, opts);
  const rng = new Rng(9);
  const draw = (n: number) => Float32Array.from({ length: n }, () => rng.uniform(-1, 1));
  const xd = draw(64 * 36), w1 = draw(64 * 64 * 9), w2 = draw(64 * 64 * 9);
  const x = fromArray(xd, xs), w = fromArray(w1, ws).keep(); // kept, as a parameter is
  const run = async () => {
    const d0 = gpu().stats().dispatches;
    const y = tidy(() => noGrad(() => conv2d(x, w, null, opts)));
    const out = await y.data();
    y.dispose();
    return { out, dispatches: gpu().stats().dispatches - d0 };
  };
  const first = await run(), second = await run();
  assert(relErr(first.out, conv2dReference(xd, w1, null, geo)) < 1e-5, "first call");
  assertEquals(second.out, first.out, "cached U: the same result");
  assertEquals(second.dispatches, first.dispatches - 1, "no weight transform the second time");
  gpu().upload(w.buffer, w2); // new weights in the same buffer
  const third = await run();
  assert(relErr(third.out, conv2dReference(xd, w2, null, geo)) < 1e-5, "after new weights");
  assertEquals(third.dispatches, first.dispatches, "transformed again");
  // A weight that is not kept (a temporary) is transformed every call, never cached.
  const temp = fromArray(w2, ws);
  const runTemp = async () => {
    const d0 = gpu().stats().dispatches;
    const y = tidy(() => noGrad(() => conv2d(x, temp, null, opts)));
    await y.data();
    y.dispose();
    return gpu().stats().dispatches - d0;
  };
  assertEquals([await runTemp(), await runTemp()], [first.dispatches, first.dispatches]);
  temp.dispose();
  const old = setWinogradWeightCache(0);
  try {
    const a = await run(), b = await run();
    assertEquals(b.dispatches, a.dispatches, "no cache: every call transforms");
    assertEquals(b.dispatches, first.dispatches);
    assertEquals(a.out, third.out);
  } finally {
    setWinogradWeightCache(old);
  }
  x.dispose();
  w.dispose();
});

Deno.test("winograd conv: gradients, other kernels and few channels go elsewhere", () => {
  const g = convGeometry([1, 64, 8, 8], [64, 64, 3, 3], { padding: 1 });
  assert(!winogradApplies(g, true), "a recorded gradient");
  for (
    const [xs, ws, o] of [
      [[1, 64, 8, 8], [64, 64, 5, 5], {}],
      [[1, 64, 8, 8], [64, 64, 3, 3], { stride: 2 }],
      [[1, 64, 8, 8], [64, 64, 3, 3], { dilation: 2 }],
      [[1, 64, 8, 8], [64, 32, 3, 3], { groups: 2 }],
      [[1, 32, 8, 8], [64, 32, 3, 3], {}],
      [[1, 64, 8, 8], [32, 64, 3, 3], {}],
    ] as [number[], number[], Conv2dOpOptions][]
  ) {
    assert(!winogradApplies(convGeometry(xs, ws, o), false), JSON.stringify({ ws, o }));
  }
});
