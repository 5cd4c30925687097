import { assert, assertClose, assertEquals, assertRejects } from "../../assert.ts";
import { Conv2d } from "../../../core/nn/conv.ts";
import { conv2dReference, convGeometry } from "../../../core/ops/conv_ref.ts";
import { initGpu } from "../../../core/gpu.ts";
import { backward } from "../../../core/autograd.ts";
import { sum } from "../../../core/ops/reduce.ts";
import { fromArray, tidy } from "../../../core/tensor.ts";
import { relErr } from "../ops/check.ts";

await initGpu();

Deno.test("Conv2d: PyTorch layout, names and default init bounds", async () => {
  const c = new Conv2d(6, 8, [3, 5], { groups: 2, seed: 3 });
  assertEquals(c.weight.shape, [8, 3, 3, 5]);
  assertEquals(c.bias!.shape, [8]);
  assertEquals(c.namedParameters().map(([n]) => n), ["weight", "bias"]);
  const bound = 1 / Math.sqrt(3 * 3 * 5);
  const w = await c.weight.data(), b = await c.bias!.data();
  assert([...w, ...b].every((v) => Math.abs(v) <= bound), "values within ±1/√fan_in");
  // uniform: the spread should reach close to the bound
  assert(Math.max(...w.map(Math.abs)) > 0.9 * bound, "weights span the bound");
  const mean = w.reduce((p, v) => p + v, 0) / w.length;
  assertClose(mean, 0, 0.2 * bound);
  c.dispose();
});

Deno.test("Conv2d: bias options (none, tied, untied) and their shapes", async () => {
  const none = new Conv2d(3, 4, 3, { bias: false });
  assertEquals(none.bias, null);
  assertEquals(none.parameters().length, 1);
  const untied = new Conv2d(3, 4, 3, { bias: "untied", inputSize: [9, 7], stride: 2, padding: 1 });
  assertEquals(untied.bias!.shape, [4, 5, 4]);
  await assertRejects(() => new Conv2d(3, 4, 3, { bias: "untied" }), /needs inputSize/);
  await assertRejects(() => new Conv2d(3, 4, 3, { groups: 2 }), /groups 2 must divide/);
  none.dispose();
  untied.dispose();
});

Deno.test("Conv2d: forward matches the reference and gradients reach every parameter", async () => {
  for (const bias of ["tied", "untied"] as const) {
    const conv = new Conv2d(3, 4, 3, {
      stride: 2,
      padding: 1,
      dilation: 1,
      bias,
      inputSize: [7, 9],
      seed: 1,
    });
    const xs = Float32Array.from({ length: 2 * 3 * 7 * 9 }, (_, i) => Math.sin(i * 0.7));
    const x = fromArray(xs, [2, 3, 7, 9]);
    const { y } = tidy(() => {
      const y = conv.forward(x);
      backward(sum(y));
      return { y: y.detach() };
    });
    const geo = convGeometry([2, 3, 7, 9], conv.weight.shape, conv.options);
    const want = conv2dReference(xs, await conv.weight.data(), await conv.bias!.data(), geo);
    const err = relErr(await y.data(), want);
    assert(err < 1e-5, `${bias}: forward error ${err}`);
    // d(sum y)/d bias: the tied bias gets N·OH·OW, the untied one N per location.
    const gb = await conv.bias!.grad!.data();
    const per = bias === "tied" ? 2 * geo.OH * geo.OW : 2;
    assert(gb.every((v) => Math.abs(v - per) < 1e-4), `${bias}: bias grad ${gb[0]} vs ${per}`);
    assertEquals(conv.weight.grad!.shape, conv.weight.shape);
    y.dispose();
    x.dispose();
    conv.dispose();
  }
});

Deno.test("Conv2d: the same seed gives the same weights", async () => {
  const a = new Conv2d(2, 3, 3, { seed: 7 }), b = new Conv2d(2, 3, 3, { seed: 7 });
  assertEquals([...(await a.weight.data())], [...(await b.weight.data())]);
  a.dispose();
  b.dispose();
});
