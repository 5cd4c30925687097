/** Decoupled weight decay: w ← w·(1 − ηλ) beside the optimizer's update (AdamW). */
import { assert } from "../../assert.ts";
import { initGpu } from "../../../core/gpu.ts";
import { create } from "../../../plugins/registry.ts";
import "../../../plugins/optimizers/index.ts";
import { type Link, Optimizer } from "../../../plugins/optimizers/chain.ts";
import { adam } from "../../../plugins/optimizers/adam.ts";
import { sgd } from "../../../plugins/optimizers/sgd.ts";
import { momentum } from "../../../plugins/optimizers/momentum.ts";
import { weightDecay } from "../../../plugins/regularizers/weight_decay.ts";
import { params, relErr, runCase, torchCase } from "../optimizers/_helpers.ts";
import { param, runOne, sgdRef } from "./_ref.ts";

Deno.test("weight_decay + adam matches torch.optim.AdamW (link and registry forms)", async () => {
  const c = torchCase("adamw");
  const make = [
    () => [weightDecay({ weightDecay: 0.1 }), adam()],
    () => [create<Link>("regularizer", "weight_decay", { weightDecay: 0.1 }), adam()],
  ];
  for (const links of make) {
    const ps = await params(c);
    const opt = new Optimizer(ps, links(), { lr: 0.01 });
    const err = await runCase(c, ps, opt);
    opt.dispose();
    ps.forEach((p) => p.dispose());
    assert(err <= 1e-5, `relative error ${err.toExponential(2)}`);
  }
});

Deno.test("weight_decay with SGD: w ← w(1 − ηλ) − ηg; decoupled, so momentum never sees it", async () => {
  await initGpu();
  const w0 = [1, -2, 0.5], grads = [[0.1, 0.1, 0.1], [0, 0, 0], [-0.3, 0.2, 1]];
  const p = param(w0);
  const opt = new Optimizer([p], [weightDecay({ lambda: 0.5 }), sgd()], { lr: 0.1 });
  const got = await runOne(p, opt, grads);
  const want = sgdRef(w0, grads, 0.1, (g) => g, (w) => w * (1 - 0.1 * 0.5));
  assert(relErr(got, want) <= 1e-6, `${got} vs ${want}`);
  opt.dispose();
  p.dispose();
  // With zero gradients, momentum's velocity stays 0: the decay is not in the gradient.
  const q = param(w0);
  const opt2 = new Optimizer([q], [weightDecay({ weightDecay: 0.5 }), momentum()], { lr: 0.1 });
  const got2 = await runOne(q, opt2, [[0, 0, 0], [0, 0, 0]]);
  const st = await opt2.state();
  assert(
    [...st.params[0].slots["momentum.v"]].every((x) => x === 0),
    "velocity picked up the decay",
  );
  assert(relErr(got2, w0.map((w) => w * 0.95 * 0.95)) <= 1e-6, `${got2}`);
  opt2.dispose();
  q.dispose();
});

Deno.test("weight_decay lrScaled: false after the update is ONNX Adam's norm_coefficient_post", async () => {
  await initGpu();
  const w0 = [1, -1], p = param(w0);
  const opt = new Optimizer([p], [sgd(), weightDecay({ weightDecay: 0.2, lrScaled: false })], {
    lr: 0.5,
  });
  const got = await runOne(p, opt, [[1, 1]]);
  const want = w0.map((w) => (w - 0.5) * 0.8);
  assert(relErr(got, want) <= 1e-6, `${got} vs ${want}`);
  opt.dispose();
  p.dispose();
});
