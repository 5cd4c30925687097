/**
 * A small CNN's loss and every parameter gradient agree with PyTorch for the same weights
 * and batch (fixtures/cnn/make_cnn_grads.py made the reference with Debian's python3-torch).
 */
import { assert } from "../../assert.ts";
import { relErr } from "../ops/check.ts";
import { backward } from "../../../core/autograd.ts";
import { initGpu } from "../../../core/gpu.ts";
import { Flatten, LogSoftmax, ReLU } from "../../../core/nn/activation.ts";
import { BatchNorm2d } from "../../../core/nn/batchnorm.ts";
import { Conv2d } from "../../../core/nn/conv.ts";
import { Linear } from "../../../core/nn/linear.ts";
import { Sequential } from "../../../core/nn/sequential.ts";
import type { StateDict } from "../../../core/nn/module.ts";
import { nll } from "../../../core/ops/loss.ts";
import { fromArray, tidy } from "../../../core/tensor.ts";
import { AvgPool2d } from "../../../plugins/pooling/average.ts";
import { MaxPool2d } from "../../../plugins/pooling/max.ts";

interface Entry {
  shape: number[];
  data: number[];
}
const ref = JSON.parse(
  await Deno.readTextFile(new URL("../../../fixtures/cnn/cnn_grads.json", import.meta.url)),
) as {
  x: Entry;
  y: number[];
  state: Record<string, Entry>;
  loss: number;
  output: number[];
  grads: Record<string, Entry>;
  running: Record<string, number[]>;
};

Deno.test("small CNN: loss, output, every parameter gradient and BN statistics match PyTorch", async () => {
  await initGpu();
  const model = new Sequential(
    new Conv2d(3, 5, 3, { padding: 1, bias: false }),
    new BatchNorm2d(5),
    new ReLU(),
    new MaxPool2d({ kernel: 2 }),
    new Conv2d(5, 4, 3, { stride: 2, padding: 1 }),
    new ReLU(),
    new AvgPool2d({ kernel: 2, stride: 1 }),
    new Flatten(),
    new Linear(16, 7),
    new ReLU(),
    new Linear(7, 3),
    new LogSoftmax(),
  );
  const dict: StateDict = {};
  for (const [k, e] of Object.entries(ref.state)) {
    dict[k] = { shape: e.shape, data: Float32Array.from(e.data) };
  }
  model.loadStateDict(dict, { strict: false });
  const { out, loss } = tidy(() => {
    const out = model.forward(fromArray(ref.x.data, ref.x.shape));
    const loss = nll(out, fromArray(ref.y, [ref.y.length]));
    backward(loss);
    return { out: out.detach(), loss: loss.detach() };
  });
  const l = await loss.item();
  assert(Math.abs(l - ref.loss) / Math.abs(ref.loss) <= 1e-4, `loss ${l} vs ${ref.loss}`);
  const o = relErr(await out.data(), ref.output);
  assert(o <= 1e-4, `output relative error ${o}`);
  const params = new Map(model.namedParameters());
  assert(params.size === Object.keys(ref.grads).length, "parameter names differ from PyTorch's");
  for (const [name, g] of Object.entries(ref.grads)) {
    const p = params.get(name);
    assert(p?.grad, `no gradient for ${name}`);
    const e = relErr(await p.grad.data(), g.data);
    assert(e <= 1e-4, `${name} gradient relative error ${e.toExponential(2)}`);
  }
  const buffers = new Map(model.namedBuffers());
  for (const [name, v] of Object.entries(ref.running)) {
    const e = relErr(await buffers.get(name)!.data(), v);
    assert(e <= 1e-4, `${name} relative error ${e}`);
  }
  model.dispose();
});
