/**
 * Batch normalisation reading its large inputs through flat textures (`runReading`, where
 * the adapter's storage loads are slow) gives the storage reads' bits: the statistics, the
 * normalisation and both backward kernels, with and without the fused ReLU. (The kernels
 * themselves are checked against float64 references in batchnorm_test.ts.)
 */
import { assert, assertEquals } from "../../assert.ts";
import { initGpu } from "../../../core/gpu.ts";
import { backward } from "../../../core/autograd.ts";
import { batchNorm } from "../../../core/ops/batchnorm.ts";
import { mul } from "../../../core/ops/elementwise.ts";
import { sum } from "../../../core/ops/reduce.ts";
import { setTextureReads } from "../../../core/ops/texture_read.ts";
import { Rng } from "../../../core/random.ts";
import { fromArray, tidy } from "../../../core/tensor.ts";
import { countTextureCopies } from "./check.ts";

await initGpu();

async function run(shape: number[], relu: boolean, textures: boolean) {
  const old = setTextureReads(textures);
  const rng = new Rng(3), C = shape[1], n = shape.reduce((p, d) => p * d, 1);
  const x = fromArray(Float32Array.from({ length: n }, () => rng.uniform(-2, 3)), shape);
  const w = fromArray(Float32Array.from({ length: C }, () => rng.uniform(0.5, 2)), [C]);
  const b = fromArray(Float32Array.from({ length: C }, () => rng.uniform(-0.5, 0.5)), [C]);
  const rm = fromArray(new Float32Array(C), [C]), rv = fromArray(new Float32Array(C).fill(1), [C]);
  const seed = fromArray(Float32Array.from({ length: n }, () => rng.uniform(-1, 1)), shape);
  for (const t of [x, w, b]) t.requiresGrad = true;
  const { value: y, copies } = countTextureCopies(() =>
    tidy(() => {
      const y = batchNorm(x, w, b, rm, rv, { training: true, relu });
      backward(sum(mul(y, seed)));
      return y.detach();
    })
  );
  setTextureReads(old);
  const out = await Promise.all([y, x.grad!, w.grad!, b.grad!, rm, rv].map((t) => t.data()));
  for (const t of [x, w, b, rm, rv, seed, y]) (t.grad?.dispose(), t.dispose());
  return { out, copies };
}

Deno.test("batchNorm: texture reads give the storage reads' bits (stats, normalise, backward)", async () => {
  for (const relu of [false, true]) {
    const shape = [4, 8, 48, 48]; // 18,432 vec4s, planes a multiple of 4: vec4 kernels
    const a = await run(shape, relu, true), b = await run(shape, relu, false);
    assert(a.copies > 0 && b.copies === 0, `copies ${a.copies}, ${b.copies}`);
    // Each input copied once for all the kernels that read it (18 whole rows: one copy each),
    // forward and backward being one submission: x (for the statistics, the normalisation,
    // the sums and dx), g (and y for the ReLU).
    assertEquals(a.copies, relu ? 3 : 2, `relu ${relu}: copies`);
    for (let k = 0; k < a.out.length; k++) assertEquals([...a.out[k]], [...b.out[k]], `${k}`);
  }
});
