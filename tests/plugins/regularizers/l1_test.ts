/** L1: C = C₀ + (λ/2)·Σ|w|, the gradient link g ← g + (λ/2)·sign(w), sub-gradient 0 at 0. */
import { assert, assertEquals } from "../../assert.ts";
import { initGpu } from "../../../core/gpu.ts";
import { create } from "../../../plugins/registry.ts";
import "../../../plugins/optimizers/index.ts";
import { type Link, Optimizer } from "../../../plugins/optimizers/chain.ts";
import { sgd } from "../../../plugins/optimizers/sgd.ts";
import { adam } from "../../../plugins/optimizers/adam.ts";
import { l1 } from "../../../plugins/regularizers/l1.ts";
import { params, relErr, runCase, torchCase } from "../optimizers/_helpers.ts";
import { param, runOne, sgdRef } from "./_ref.ts";

Deno.test("l1 matches PyTorch SGD on g + (λ/2)·sign(w) (fixture l1_sgd, a weight starting at 0)", async () => {
  const c = torchCase("l1_sgd");
  assertEquals(c.w0[0][0], 0);
  for (const link of [l1({ lambda: 0.2 }), create<Link>("regularizer", "l1", { lambda: 0.2 })]) {
    const ps = await params(c);
    const opt = new Optimizer(ps, [link, sgd()], { lr: 0.1 });
    const err = await runCase(c, ps, opt);
    opt.dispose();
    ps.forEach((p) => p.dispose());
    assert(err <= 1e-5, `relative error ${err.toExponential(2)}`);
  }
});

Deno.test("l1: a zero weight with zero gradient stays exactly 0; others shrink by ηλ/2 per step", async () => {
  await initGpu();
  const w0 = [0, 1, -1, 0, 0.25], grads = [[0, 0, 0, 0, 0], [0, 0, 0, 0, 0], [0, 0, 0, 0, 0]];
  const p = param(w0);
  const opt = new Optimizer([p], [l1({ lambda: 0.1 })].concat([sgd()]), { lr: 0.5 });
  const got = await runOne(p, opt, grads);
  const want = sgdRef(w0, grads, 0.5, (g, w) => g + 0.05 * Math.sign(w));
  assertEquals(got[0], 0);
  assertEquals(got[3], 0);
  assert(relErr(got, want) <= 1e-6, `${got} vs ${want}`);
  opt.dispose();
  p.dispose();
});

Deno.test("l1 with n, chained before Adam, per-group λ", async () => {
  await initGpu();
  const w0 = [0.5, -0.5, 0], grads = [[0.1, -0.2, 0.3], [0.2, 0.1, -0.1]];
  const a = param(w0), b = param(w0);
  const opt = new Optimizer(
    [{ params: [a] }, { params: [b], l1: 0 }],
    [l1({ lambda: 1, n: 4 }), adam()],
    { lr: 0.01 },
  );
  for (const g of grads) {
    opt.zeroGrad();
    a.grad = param(g).keep();
    b.grad = param(g).keep();
    opt.step();
  }
  // float64 Adam on g + (λ/2n)·sign(w)
  const ref = (c: number) => {
    const w = [...w0], m = [0, 0, 0], v = [0, 0, 0];
    grads.forEach((gs, s) => {
      const t = s + 1;
      for (let i = 0; i < 3; i++) {
        const g = gs[i] + c * Math.sign(w[i]);
        m[i] = 0.9 * m[i] + 0.1 * g;
        v[i] = 0.999 * v[i] + 0.001 * g * g;
        w[i] -= (0.01 / (1 - 0.9 ** t)) * m[i] /
          (Math.sqrt(v[i]) / Math.sqrt(1 - 0.999 ** t) + 1e-8);
      }
    });
    return w;
  };
  assert(relErr(await a.data(), ref(1 / 8)) <= 1e-6, `${await a.data()} vs ${ref(1 / 8)}`);
  assert(relErr(await b.data(), ref(0)) <= 1e-6, `${await b.data()} vs ${ref(0)}`);
  opt.zeroGrad();
  opt.dispose();
  a.dispose();
  b.dispose();
});
