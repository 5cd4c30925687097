import { assert, assertEquals, assertRejects } from "../../assert.ts";
import { initGpu } from "../../../core/gpu.ts";
import { BatchNorm, BatchNorm1d, BatchNorm2d } from "../../../core/nn/batchnorm.ts";
import { Linear } from "../../../core/nn/linear.ts";
import { Sequential } from "../../../core/nn/sequential.ts";
import { fromArray } from "../../../core/tensor.ts";
import { create, names } from "../../../plugins/registry.ts";
import type { BatchNormFactory } from "../../../plugins/layers/index.ts";
import "../../../plugins/layers/index.ts";

Deno.test("layer plugin batchnorm: create(options) gives a factory of layers per feature count", async () => {
  await initGpu();
  assert(names("layer").includes("batchnorm"));
  const bn = create<BatchNormFactory>("layer", "batchnorm", { momentum: 0.2, eps: 1e-3 });
  const any = bn(5);
  assert(any instanceof BatchNorm && !(any instanceof BatchNorm1d));
  assertEquals([any.numFeatures, any.momentum, any.eps], [5, 0.2, 1e-3]);
  assert(bn.d1(7) instanceof BatchNorm1d);
  assert(bn.d2(3) instanceof BatchNorm2d);
  const bn2 = create<BatchNormFactory>("layer", "batchnorm", { dims: 2, affine: false });
  const l = bn2(4);
  assert(l instanceof BatchNorm2d);
  assertEquals(l.parameters().length, 0);
  assert(
    create<BatchNormFactory>("layer", "batchnorm", { dims: 1 })(2) instanceof BatchNorm1d,
  );
  // Each call is a fresh layer with its own state.
  assert(bn(5) !== bn(5));
  // Inserted after a linear layer of a network, it normalises the batch in training.
  const net = new Sequential(new Linear(3, 6, { seed: 2 }), bn.d1(6));
  const x = fromArray(Float32Array.from({ length: 12 }, (_, i) => Math.sin(i + 1)), [4, 3]);
  const y = await net.forward(x).data();
  for (let c = 0; c < 6; c++) {
    let m = 0;
    for (let n = 0; n < 4; n++) m += y[n * 6 + c] / 4;
    assert(Math.abs(m) < 1e-5, `channel ${c} mean ${m}`);
  }
  await assertRejects(
    () => create("layer", "batchnorm", { momentun: 0.1 }),
    /unknown option "momentun"; accepted: eps, momentum, affine, trackRunningStats, dims/,
  );
  await assertRejects(() => create("layer", "batchnorm", { dims: 3 }), /dims must be 1 or 2/);
  x.dispose();
  net.dispose();
});
