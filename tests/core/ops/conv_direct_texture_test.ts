/**
 * The direct convolution's padded gradient (`padTexture` in core/ops/conv_direct.ts) reading
 * the output gradient, and the fused ReLU's mask, through flat textures (`runReading`, where
 * the adapter's storage loads are slow) gives the storage reads' bits: both its kernels (rows
 * that start at aligned floats, and the shifted one for rows of a width that is not a
 * multiple of 4), with and without the ReLU. (The kernels themselves are checked against
 * float64 references in conv_direct_test.ts.) The fused max pool's backward packs its pooled
 * gradient and output the same way.
 */
import { assert, assertEquals } from "../../assert.ts";
import { backward } from "../../../core/autograd.ts";
import { gpu, initGpu } from "../../../core/gpu.ts";
import { conv2d, conv2dMaxPool2 } from "../../../core/ops/conv.ts";
import { mul } from "../../../core/ops/elementwise.ts";
import { sum } from "../../../core/ops/reduce.ts";
import { setTextureReads } from "../../../core/ops/texture_read.ts";
import { Rng } from "../../../core/random.ts";
import { fromArray, tidy } from "../../../core/tensor.ts";
import { countTextureCopies } from "./check.ts";

await initGpu();

/**
 * conv2d (5×5, no padding; with `pool` the fused 2×2 max pool) forward and backward; its
 * outputs and the texture copies.
 */
async function run(
  xShape: number[],
  cout: number,
  relu: boolean,
  textures: boolean,
  pool = false,
) {
  const old = setTextureReads(textures);
  const rng = new Rng(5), [N, C, H, W] = xShape;
  const gen = (n: number) => Float32Array.from({ length: n }, () => rng.uniform(-1, 1));
  const x = fromArray(gen(N * C * H * W), xShape);
  const w = fromArray(gen(cout * C * 25), [cout, C, 5, 5]);
  const b = fromArray(gen(cout), [cout]);
  const [OH, OW] = pool ? [(H - 4) >> 1, (W - 4) >> 1] : [H - 4, W - 4];
  const seed = fromArray(gen(N * cout * OH * OW), [N, cout, OH, OW]);
  for (const t of [x, w, b]) t.requiresGrad = true;
  const { value: y, copies } = countTextureCopies(() =>
    tidy(() => {
      const y = pool ? conv2dMaxPool2(x, w, b, { relu })! : conv2d(x, w, b, { relu });
      backward(sum(mul(y, seed)));
      return y.detach();
    })
  );
  setTextureReads(old);
  const out = await Promise.all([y, x.grad!, w.grad!, b.grad!].map((t) => t.data()));
  for (const t of [x, w, b, seed, y]) (t.grad?.dispose(), t.dispose());
  return { out, copies };
}

Deno.test("direct conv: the padded gradient read through textures gives the storage reads' bits", async () => {
  if (gpu().variant !== "cpu") return; // the direct kernels are the software adapters'
  // Output rows of 68 floats (aligned: the padding of 4 is a whole texel) and of 66 (the
  // shifted kernel); gradients of 2·8·68·68 and 2·8·66·66 floats, past TEXTURE_MIN vec4s.
  for (const [W, relu] of [[72, false], [70, false], [70, true], [72, true]] as const) {
    const shape = [2, 3, W, W];
    const a = await run(shape, 8, relu, true), b = await run(shape, 8, relu, false);
    assert(a.copies > b.copies, `W ${W} relu ${relu}: copies ${a.copies} vs ${b.copies}`);
    for (let k = 0; k < a.out.length; k++) {
      assertEquals([...a.out[k]], [...b.out[k]], `W ${W} relu ${relu}: output ${k}`);
    }
  }
});

Deno.test("direct conv + 2×2 max pool: the pooled gradient read through textures gives the same bits", async () => {
  if (gpu().variant !== "cpu") return;
  // A pooled gradient of 4·16·32·32 floats (16,384 vec4s: TEXTURE_MIN), as the Fashion-MNIST
  // CNN's (64·32·14·14); rows of 64 and 65 conv outputs (an odd one dropped by the pool).
  for (const [W, relu] of [[68, true], [69, false]] as const) {
    const shape = [4, 2, 68, W];
    const a = await run(shape, 16, relu, true, true), b = await run(shape, 16, relu, false, true);
    assert(a.copies > b.copies, `W ${W} relu ${relu}: copies ${a.copies} vs ${b.copies}`);
    for (let k = 0; k < a.out.length; k++) {
      assertEquals([...a.out[k]], [...b.out[k]], `pooled W ${W} relu ${relu}: output ${k}`);
    }
  }
});
