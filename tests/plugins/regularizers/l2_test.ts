/** L2: C = C₀ + (λ/2n)·Σw², the gradient link g ← g + (λ/n)·w. */
import { assert } from "../../assert.ts";
import { initGpu } from "../../../core/gpu.ts";
import { create } from "../../../plugins/registry.ts";
import "../../../plugins/optimizers/index.ts";
import { type Link, Optimizer } from "../../../plugins/optimizers/chain.ts";
import { sgd } from "../../../plugins/optimizers/sgd.ts";
import { l2 } from "../../../plugins/regularizers/l2.ts";
import { params, relErr, runCase, torchCase } from "../optimizers/_helpers.ts";
import { param, runOne, sgdRef } from "./_ref.ts";

Deno.test("l2 matches torch.optim.SGD(weight_decay) with λ = wd, n = 1, and λ/n scaling", async () => {
  const c = torchCase("sgd_l2");
  for (
    const link of [
      l2({ lambda: 0.01 }),
      l2({ lambda: 0.5, n: 50 }),
      create<Link>("regularizer", "l2", { lambda: 0.01 }),
    ]
  ) {
    const ps = await params(c);
    const opt = new Optimizer(ps, [link, sgd()], { lr: 0.1 });
    const err = await runCase(c, ps, opt);
    opt.dispose();
    ps.forEach((p) => p.dispose());
    assert(err <= 1e-5, `relative error ${err.toExponential(2)}`);
  }
});

Deno.test("l2: the penalty's gradient (λ/n)·w, per-group λ, 0 leaves SGD unchanged", async () => {
  await initGpu();
  const w0 = [1, -2, 0, 0.5, 3],
    grads = [[0.1, 0.2, -0.3, 0, 1], [0, 0, 0, 0, 0], [1, -1, 1, -1, 0.5]];
  const a = param(w0), b = param(w0);
  const opt = new Optimizer(
    [{ params: [a] }, { params: [b], l2: 0 }],
    [l2({ lambda: 2, n: 10 }), sgd()],
    { lr: 0.1 },
  );
  for (const g of grads) {
    opt.zeroGrad();
    a.grad = param(g).keep();
    b.grad = param(g).keep();
    opt.step();
  }
  const wantA = sgdRef(w0, grads, 0.1, (g, w) => g + (2 / 10) * w);
  const wantB = sgdRef(w0, grads, 0.1, (g) => g);
  assert(relErr(await a.data(), wantA) <= 1e-6, `with l2: ${await a.data()} vs ${wantA}`);
  assert(relErr(await b.data(), wantB) <= 1e-6, `group with l2 = 0: ${await b.data()} vs ${wantB}`);
  opt.zeroGrad();
  opt.dispose();
  a.dispose();
  b.dispose();
});

Deno.test("l2 via an optimizer plugin's regularizers option", async () => {
  await initGpu();
  const w0 = [0.3, -0.7, 1.1], grads = [[0.5, 0.5, 0.5], [-1, 0, 2]];
  const p = param(w0);
  const opt = create<Optimizer>("optimizer", "sgd", {
    params: [p],
    lr: 0.2,
    regularizers: [{ name: "l2", lambda: 0.3, n: 3 }],
  });
  const got = await runOne(p, opt, grads);
  const want = sgdRef(w0, grads, 0.2, (g, w) => g + 0.1 * w);
  assert(relErr(got, want) <= 1e-6, `${got} vs ${want}`);
  opt.dispose();
  p.dispose();
});
