/**
 * The direct convolution's product tile (`setDirectTile` in core/ops/conv_direct_kernels.ts:
 * 8 × 4 where the host CPU has AVX-512, 8 × 2 elsewhere) changes no bit of the forward, the
 * input gradient or the weight and bias gradients: each output sums its terms in the same
 * order. The weight gradient's channels an invocation (`setDirectGradChannels` in
 * core/ops/conv_direct_grad.ts: 4 for layers of at most 4 input channels, else 8) regroup
 * its partial sums over images, so there the two agree to rounding; so may the kernel rows an
 * invocation (`setDirectGradAllRows`: all of a kernel of up to 25 taps on AVX-512 hosts, 9
 * elsewhere). Sizes fit neither tile (channel counts that are not multiples of 8, rows of odd,
 * even and multiple-of-4 length). conv_direct_test.ts checks the tile the host takes
 * against the float64 reference; this test carries that check over to the other one.
 */
import { assert, assertEquals } from "../../assert.ts";
import { backward } from "../../../core/autograd.ts";
import { gpu, initGpu } from "../../../core/gpu.ts";
import { conv2d } from "../../../core/ops/conv.ts";
import { convGeometry } from "../../../core/ops/conv_ref.ts";
import { directApplies } from "../../../core/ops/conv_direct.ts";
import { setDirectTile } from "../../../core/ops/conv_direct_kernels.ts";
import { setDirectGradAllRows, setDirectGradChannels } from "../../../core/ops/conv_direct_grad.ts";
import { mul } from "../../../core/ops/elementwise.ts";
import { sum } from "../../../core/ops/reduce.ts";
import { Rng } from "../../../core/random.ts";
import { fromArray, tidy } from "../../../core/tensor.ts";
import { relErr } from "./check.ts";

await initGpu();

/** conv2d forward and backward under `tile`: the output and the three gradients. */
async function run(
  xShape: number[],
  wShape: number[],
  padding: number,
  relu: boolean,
  tile: "8x4" | "8x2",
  channels: 4 | 8 | null = null,
  allRows: number | null = null,
) {
  const old = setDirectTile(tile), oldChannels = setDirectGradChannels(channels);
  const oldRows = setDirectGradAllRows(allRows);
  const rng = new Rng(11);
  const gen = (n: number) => Float32Array.from({ length: n }, () => rng.uniform(-1, 1));
  const count = (s: number[]) => s.reduce((p, d) => p * d, 1);
  const geo = convGeometry(xShape, wShape, { padding });
  assert(directApplies(geo), `direct kernels should take ${xShape} ${wShape}`);
  const x = fromArray(gen(count(xShape)), xShape);
  const w = fromArray(gen(count(wShape)), wShape);
  const b = fromArray(gen(geo.Cout), [geo.Cout]);
  const yShape = [geo.N, geo.Cout, geo.OH, geo.OW];
  const seed = fromArray(gen(count(yShape)), yShape);
  for (const t of [x, w, b]) t.requiresGrad = true;
  const y = tidy(() => {
    const y = conv2d(x, w, b, { padding, relu });
    backward(sum(mul(y, seed)));
    return y.detach();
  });
  setDirectTile(old);
  setDirectGradChannels(oldChannels);
  setDirectGradAllRows(oldRows);
  const out = await Promise.all([y, x.grad!, w.grad!, b.grad!].map((t) => t.data()));
  for (const t of [x, w, b, seed, y]) (t.grad?.dispose(), t.dispose());
  return out;
}

Deno.test({
  name:
    "direct conv: the 8×4 and 8×2 product tiles, and 8 or 4 channels a weight-gradient invocation, give the same bits",
  ignore: gpu().variant !== "cpu", // the direct kernels are the software adapters'
  async fn() {
    const cases: [number[], number[], number, boolean][] = [
      [[3, 5, 13, 11], [11, 5, 3, 3], 1, false], // rows of 11: scalar stores
      [[2, 6, 14, 14], [9, 6, 5, 5], 0, true], // rows of 10: pairs
      [[2, 3, 20, 20], [13, 3, 3, 3], 1, true], // rows of 20: vec4 stores
      [[1, 17, 9, 23], [3, 17, 5, 3], 2, false], // wide rows, few channels out
    ];
    for (const [xs, ws, padding, relu] of cases) {
      const a = await run(xs, ws, padding, relu, "8x4");
      const b = await run(xs, ws, padding, relu, "8x2");
      for (let k = 0; k < 4; k++) {
        assert(a[k].some((v) => v !== 0), `${xs} ${ws}: output ${k} is all zeros`);
        assertEquals(a[k], b[k], `${xs} ${ws}: output ${k} differs between the tiles`);
      }
      // 4 channels a weight-gradient invocation against 8: the same forward and input
      // gradient bits, weight and bias gradients to rounding.
      const c = await run(xs, ws, padding, relu, "8x2", 4);
      const d = await run(xs, ws, padding, relu, "8x2", 8);
      assertEquals(c[0], d[0]);
      assertEquals(c[1], d[1]);
      for (const k of [2, 3]) {
        const err = relErr(c[k], d[k]);
        assert(err < 1e-5, `${xs} ${ws}: gradient ${k} differs by ${err.toExponential(2)}`);
      }
      // All kernel rows an invocation up to 25 taps (AVX-512 hosts) or up to 9: the same
      // forward and input gradient, weight and bias gradients to rounding.
      const e = await run(xs, ws, padding, relu, "8x2", null, 25);
      const f = await run(xs, ws, padding, relu, "8x2", null, 9);
      assertEquals(e[0], f[0]);
      assertEquals(e[1], f[1]);
      for (const k of [2, 3]) {
        const err = relErr(e[k], f[k]);
        assert(
          err < 1e-5,
          `${xs} ${ws}: all rows: gradient ${k} differs by ${err.toExponential(2)}`,
        );
      }
    }
  },
});
