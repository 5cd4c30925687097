/**
 * Sequential runs its layers through `runChain`, the chain runner the imported ONNX nets
 * use too: Conv2d → ReLU (and Linear → ReLU) run as one fused kernel — the same outputs
 * and gradients as the unfused ops, fewer dispatches, the fused autograd node — while an
 * untied-bias Conv2d is left unfused, and intermediates are released early without
 * leaking or breaking backward.
 */
import { assert, assertEquals } from "../../assert.ts";
import { backward } from "../../../core/autograd.ts";
import { gpu, initGpu } from "../../../core/gpu.ts";
import { Flatten, ReLU } from "../../../core/nn/activation.ts";
import { BatchNorm2d } from "../../../core/nn/batchnorm.ts";
import { Conv2d } from "../../../core/nn/conv.ts";
import { Linear } from "../../../core/nn/linear.ts";
import { fuseNext, registerFusion, Sequential } from "../../../core/nn/sequential.ts";
import { conv2d } from "../../../core/ops/conv.ts";
import { mul, relu } from "../../../core/ops/elementwise.ts";
import { linear } from "../../../core/ops/matmul.ts";
import { sum } from "../../../core/ops/reduce.ts";
import { Rng } from "../../../core/random.ts";
import { fromArray, type Tensor, tidy } from "../../../core/tensor.ts";
import { relErr } from "../ops/check.ts";

await initGpu();

function input(shape: number[], seed: number): Tensor {
  const r = new Rng(seed);
  const n = shape.reduce((p, d) => p * d, 1);
  const t = fromArray(Float32Array.from({ length: n }, () => r.uniform(-1, 1)), shape);
  t.requiresGrad = true;
  return t;
}

/** Output and gradients (input, then every parameter) of Σ f(x)·R. */
async function grads(
  f: (x: Tensor) => Tensor,
  x: Tensor,
  params: Tensor[],
): Promise<Float32Array[]> {
  for (const t of [x, ...params]) {
    t.grad?.dispose();
    t.grad = null;
  }
  const out = tidy(() => {
    const y = f(x);
    const r = new Rng(9);
    const R = fromArray(Float32Array.from({ length: y.size }, () => r.uniform(-1, 1)), y.shape);
    backward(sum(mul(y, R)));
    return y.detach();
  });
  const res = [await out.data()];
  out.dispose();
  for (const t of [x, ...params]) res.push(await t.grad!.data());
  return res;
}

function dispatches(f: () => void): number {
  const before = gpu().stats().dispatches;
  tidy(f);
  return gpu().stats().dispatches - before;
}

Deno.test("Sequential: Conv2d → ReLU is fused, with the unfused outputs and gradients", async () => {
  const conv = new Conv2d(3, 5, 3, { padding: 1, stride: 2, seed: 1 });
  const net = new Sequential(conv, new ReLU(), new Flatten());
  const x = input([2, 3, 9, 7], 2);
  const params = [conv.weight, conv.bias!];
  const fused = await grads((t) => net.forward(t), x, params);
  const plain = await grads(
    (t) => relu(conv2d(t, conv.weight, conv.bias, { ...conv.options, relu: false })),
    x,
    params,
  );
  assertEquals(fused[0].length, plain[0].length);
  fused.forEach((g, k) => {
    const e = relErr(g, plain[k]);
    assert(e <= 1e-5, `${["output", "dx", "dW", "db"][k]}: relative error ${e}`);
  });
  // The fused path: one autograd node `conv2d_relu`, fewer dispatches than conv + relu.
  tidy(() => {
    const y = fuseNext(conv, net.layers[1], x);
    assertEquals(y?.node?.name, "conv2d_relu");
  });
  const seq = dispatches(() => void net.forward(x));
  const convOnly = dispatches(() => void conv.forward(x));
  const unfused = dispatches(() => void relu(conv.forward(x)));
  assertEquals(seq, convOnly, "Sequential(conv, relu, flatten) dispatches the conv kernels only");
  assert(unfused > seq, `unfused ${unfused} dispatches, fused ${seq}`);
  x.dispose();
  net.dispose();
});

Deno.test("Sequential: Linear → ReLU is fused; an untied-bias Conv2d is not", async () => {
  const fc = new Linear(6, 4, { seed: 3 });
  const net = new Sequential(fc, new ReLU());
  const x = input([5, 6], 4);
  const fused = await grads((t) => net.forward(t), x, [fc.weight, fc.bias!]);
  const plain = await grads((t) => relu(linear(t, fc.weight, fc.bias)), x, [fc.weight, fc.bias!]);
  fused.forEach((g, k) => assert(relErr(g, plain[k]) <= 1e-5, `Linear term ${k}`));
  const untied = new Conv2d(2, 3, 3, { bias: "untied", inputSize: [5, 5], seed: 5 });
  assertEquals(fuseNext(untied, new ReLU(), input([1, 2, 5, 5], 6)), null);
  x.dispose();
  net.dispose();
  untied.dispose();
});

Deno.test("Sequential: BatchNorm2d → ReLU is fused, with the unfused outputs and gradients", async () => {
  const bn = new BatchNorm2d(3);
  const net = new Sequential(bn, new ReLU());
  const x = input([2, 3, 5, 4], 7);
  const params = [bn.weight!, bn.bias!];
  const fused = await grads((t) => net.forward(t), x, params);
  const plain = await grads((t) => relu(bn.forward(t)), x, params);
  fused.forEach((g, k) => {
    const e = relErr(g, plain[k]);
    assert(e <= 1e-5, `${["output", "dx", "dγ", "dβ"][k]}: relative error ${e}`);
  });
  tidy(() => assertEquals(fuseNext(bn, net.layers[1], x)?.node?.name, "batchNorm_relu"));
  const seq = dispatches(() => void net.forward(x));
  assertEquals(seq, dispatches(() => void bn.forward(x)), "no separate ReLU dispatch");
  x.dispose();
  net.dispose();
});

Deno.test("Sequential: a registered fusion rule is used, and removable", () => {
  class Twice extends Flatten {}
  let used = 0;
  const remove = registerFusion((m, next, x) => {
    if (!(m instanceof Twice && next instanceof ReLU)) return null;
    used++;
    return relu(x);
  });
  const net = new Sequential(new Twice(), new ReLU());
  tidy(() => void net.forward(fromArray([1, -2, 3, -4], [2, 2])));
  remove();
  tidy(() => void net.forward(fromArray([1, -2, 3, -4], [2, 2])));
  assertEquals(used, 1);
});

Deno.test("Sequential: early release keeps backward working and leaks nothing", () => {
  const net = new Sequential(
    new Conv2d(2, 4, 3, { seed: 7 }),
    new ReLU(),
    new Conv2d(4, 4, 3, { seed: 8 }),
    new Flatten(),
    new Linear(4 * 3 * 3, 3, { seed: 9 }),
  );
  const x = input([2, 2, 7, 7], 10);
  const live = gpu().stats().liveBuffers;
  tidy(() => backward(sum(net.forward(x))));
  net.zeroGrad();
  x.grad?.dispose();
  x.grad = null;
  assertEquals(gpu().stats().liveBuffers, live);
  x.dispose();
  net.dispose();
});
