/**
 * The Conv2d → ReLU → MaxPool2d fusion the max-pool plugin registers: a Sequential runs the
 * three as one op (fewer dispatches) with the same output and gradients, bit for bit, as
 * the layers run one by one; in evaluation too; and pools it cannot fuse (a stride of 1,
 * padding, a 3×3 window, a ceil-mode window past the input) run on their own.
 */
import { assert, assertEquals } from "../../assert.ts";
import { backward, noGrad } from "../../../core/autograd.ts";
import { gpu, initGpu } from "../../../core/gpu.ts";
import { ReLU } from "../../../core/nn/activation.ts";
import { Conv2d } from "../../../core/nn/conv.ts";
import { Sequential } from "../../../core/nn/sequential.ts";
import { mul } from "../../../core/ops/elementwise.ts";
import { sum } from "../../../core/ops/reduce.ts";
import { Rng } from "../../../core/random.ts";
import { fromArray, type Tensor, tidy } from "../../../core/tensor.ts";
import { MaxPool2d, type MaxPoolOptions } from "../../../plugins/pooling/max.ts";

await initGpu();

const rng = new Rng(3);
const x = fromArray(Float32Array.from({ length: 2 * 3 * 9 * 10 }, () => rng.uniform(-1, 1)), [
  2,
  3,
  9,
  10,
]);

/** Output, input and parameter gradients of `f`, and its dispatch count. */
async function run(f: (x: Tensor) => Tensor, params: Tensor[]) {
  x.requiresGrad = true;
  for (const t of [x, ...params]) {
    t.grad?.dispose();
    t.grad = null;
  }
  const before = gpu().stats().dispatches;
  const y = tidy(() => {
    const y = f(x);
    const r = new Rng(9);
    const R = fromArray(Float32Array.from({ length: y.size }, () => r.uniform(-1, 1)), y.shape);
    backward(sum(mul(y, R)));
    return y.detach();
  });
  const dispatches = gpu().stats().dispatches - before;
  const out = [await y.data()];
  y.dispose();
  for (const t of [x, ...params]) out.push(await t.grad!.data());
  return { out, dispatches };
}

for (
  const [name, opts, fused] of [
    ["2×2", { kernel: 2 }, true],
    ["[2,2] stride 2 (the odd last row dropped)", { kernel: [2, 2], stride: 2 }, true],
    ["2×2 ceil mode (a last window of one row)", { kernel: 2, ceilMode: true }, false],
    ["stride 1", { kernel: 2, stride: 1 }, false],
    ["padding 1", { kernel: 2, padding: 1 }, false],
    ["3×3", { kernel: 3 }, false],
  ] as [string, MaxPoolOptions, boolean][]
) {
  Deno.test(`conv → ReLU → max pool ${name}: ${fused ? "fused" : "not fused"}, same results`, async () => {
    const conv = new Conv2d(3, 5, 3, { padding: 1, seed: 4 });
    const relu = new ReLU(), pool = new MaxPool2d(opts);
    const net = new Sequential(conv, relu, pool);
    const params = [conv.weight, conv.bias!];
    const a = await run((x) => net.forward(x), params);
    const b = await run((x) => pool.forward(relu.forward(conv.forward(x))), params);
    for (let k = 0; k < a.out.length; k++) {
      assertEquals([...a.out[k]], [...b.out[k]], `tensor ${k}`);
    }
    if (fused) assert(a.dispatches < b.dispatches, `${a.dispatches} vs ${b.dispatches}`);
    const e = noGrad(() => tidy(() => net.forward(x).detach()));
    assertEquals([...await e.data()], [...a.out[0]]);
    e.dispose();
    net.dispose();
  });
}
