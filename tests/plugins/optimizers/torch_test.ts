/**
 * Every optimizer (with its chained links) against torch.optim over six steps: weights
 * after each step agree with PyTorch 1.13 within relative error 1e-5 (fixture:
 * fixtures/optimizers/make_torch_refs.py → torch_refs.json).
 */
import { assert } from "../../assert.ts";
import { type Link, Optimizer } from "../../../plugins/optimizers/chain.ts";
import { sgd } from "../../../plugins/optimizers/sgd.ts";
import { momentum } from "../../../plugins/optimizers/momentum.ts";
import { nesterov } from "../../../plugins/optimizers/nesterov.ts";
import { adam } from "../../../plugins/optimizers/adam.ts";
import { adamw } from "../../../plugins/optimizers/adamw.ts";
import { adagrad } from "../../../plugins/optimizers/adagrad.ts";
import { rmsprop } from "../../../plugins/optimizers/rmsprop.ts";
import { l2 } from "../../../plugins/regularizers/l2.ts";
import { params, relErr, runCase, torchCase } from "./_helpers.ts";

const TOL = 1e-5;

const cases: [string, () => (Link | Link[])[], number, string?][] = [
  ["sgd", () => [sgd()], 0.1],
  ["sgd_l2", () => [l2({ lambda: 0.01 }), sgd()], 0.1],
  ["momentum", () => [momentum({ momentum: 0.9 })], 0.05, "issue form v ← μv + ηg, w ← w − v"],
  ["momentum", () => [momentum({ momentum: 0.9, lrInVelocity: false })], 0.05, "torch form"],
  ["momentum_dampening", () => [momentum({ momentum: 0.8, dampening: 0.3 })], 0.05],
  ["nesterov", () => [nesterov({ momentum: 0.9 })], 0.05],
  ["nesterov", () => [nesterov({ momentum: 0.9, lrInVelocity: false })], 0.05, "torch form"],
  ["adam", () => [adam()], 0.01],
  [
    "adam_l2_amsgrad",
    () => [l2({ lambda: 0.05 }), adam({ beta1: 0.8, beta2: 0.95, eps: 1e-6, amsgrad: true })],
    0.01,
  ],
  ["adamw", () => [adamw({ weightDecay: 0.1 })], 0.01],
  [
    "adagrad",
    () => [l2({ lambda: 0.01 }), adagrad({ lrDecay: 0.05, initialAccumulator: 0.2 })],
    0.1,
  ],
  ["rmsprop", () => [rmsprop()], 0.01],
  [
    "rmsprop_centered_momentum",
    () => [l2({ lambda: 0.01 }), rmsprop({ alpha: 0.9, eps: 1e-6, momentum: 0.5, centered: true })],
    0.01,
  ],
];

for (const [name, links, lr, note] of cases) {
  Deno.test(`torch.optim ${name}${note ? ` (${note})` : ""}: 6 steps, rel err ≤ ${TOL}`, async () => {
    const c = torchCase(name);
    const ps = await params(c);
    const opt = new Optimizer(ps, links(), { lr });
    const err = await runCase(c, ps, opt);
    opt.dispose();
    for (const p of ps) p.dispose();
    console.log(`  ${name}: max relative error ${err.toExponential(2)}`);
    assert(err <= TOL, `${name}: relative error ${err.toExponential(2)}`);
  });
}

Deno.test("torch.optim state: Adam moments, momentum buffer, AdaGrad sum, RMSProp average", async () => {
  const map: [string, () => Link[], number, Record<string, string>][] = [
    ["adam", () => [adam()], 0.01, { "adam.m": "exp_avg", "adam.v": "exp_avg_sq" }],
    ["momentum", () => [momentum({ lrInVelocity: false })], 0.05, {
      "momentum.v": "momentum_buffer",
    }],
    [
      "adagrad",
      () => [l2({ lambda: 0.01 }), adagrad({ lrDecay: 0.05, initialAccumulator: 0.2 })],
      0.1,
      {
        "adagrad.h": "sum",
      },
    ],
    ["rmsprop", () => [rmsprop()], 0.01, { "rmsprop.sq": "square_avg" }],
  ];
  for (const [name, links, lr, keys] of map) {
    const c = torchCase(name);
    const ps = await params(c);
    const opt = new Optimizer(ps, links(), { lr });
    await runCase(c, ps, opt);
    const st = await opt.state();
    st.params.forEach((p, k) => {
      assert(p.step === c.grads.length, `${name} step ${p.step}`);
      for (const [ours, theirs] of Object.entries(keys)) {
        const e = relErr(p.slots[ours], c.state[k][theirs]);
        assert(e <= TOL, `${name} ${ours} of p${k}: relative error ${e.toExponential(2)}`);
      }
    });
    opt.dispose();
    for (const p of ps) p.dispose();
  }
});

Deno.test("torch.optim parameter groups with their own lr and betas, lr halved after step 3", async () => {
  const c = torchCase("groups_schedule_adam");
  const ps = await params(c);
  const opt = new Optimizer(
    [{ params: [ps[0]] }, { params: [ps[1], ps[2]], lr: 0.001, beta1: 0.5, beta2: 0.9 }],
    [adam()],
    { lr: 0.01 },
  );
  const err = await runCase(c, ps, opt, {
    between: (s) => {
      if (s === 2) opt.lr = opt.lr * 0.5;
    },
  });
  assert(Math.abs(opt.hyper(1).lr - 0.0005) < 1e-12, `group 1 lr ${opt.hyper(1).lr}`);
  opt.dispose();
  for (const p of ps) p.dispose();
  assert(err <= TOL, `relative error ${err.toExponential(2)}`);
});

Deno.test("torch.optim frozen parameter: skipped, never gets state", async () => {
  const c = torchCase("frozen_momentum");
  const ps = await params(c);
  ps[1].requiresGrad = false;
  const opt = new Optimizer(ps, [momentum({ momentum: 0.9 })], { lr: 0.05 });
  const err = await runCase(c, ps, opt, { frozen: [1] });
  const st = await opt.state();
  assert(
    st.params[1].step === 0 && Object.keys(st.params[1].slots).length === 0,
    "frozen got state",
  );
  assert(relErr(await ps[1].data(), c.w0[1]) === 0, "frozen parameter changed");
  opt.dispose();
  for (const p of ps) p.dispose();
  assert(err <= TOL, `relative error ${err.toExponential(2)}`);
});
