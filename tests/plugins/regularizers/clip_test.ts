/** Gradient clipping by global norm, reduced on the GPU, as torch.nn.utils.clip_grad_norm_. */
import { assert, assertEquals } from "../../assert.ts";
import { gpu, initGpu } from "../../../core/gpu.ts";
import { create } from "../../../plugins/registry.ts";
import "../../../plugins/optimizers/index.ts";
import { type Link, Optimizer } from "../../../plugins/optimizers/chain.ts";
import { adam } from "../../../plugins/optimizers/adam.ts";
import { momentum } from "../../../plugins/optimizers/momentum.ts";
import { sgd } from "../../../plugins/optimizers/sgd.ts";
import { clipGradNorm } from "../../../plugins/regularizers/clip.ts";
import { l2 } from "../../../plugins/regularizers/l2.ts";
import { params, relErr, runCase, torchCase } from "../optimizers/_helpers.ts";
import { param, runOne, sgdRef } from "./_ref.ts";

Deno.test("clip_grad_norm + SGD momentum and + Adam match PyTorch (gradients 3× too large)", async () => {
  const runs: [string, () => Link[], number][] = [
    [
      "clip_sgd_momentum",
      () => [clipGradNorm({ maxNorm: 1 }), momentum({ lrInVelocity: false })],
      0.1,
    ],
    [
      "clip_sgd_momentum",
      () => [create<Link>("regularizer", "clip_grad_norm", { maxNorm: 1 }), momentum()],
      0.1,
    ],
    ["clip_adam", () => [clipGradNorm({ maxNorm: 2.5 }), adam()], 0.01],
  ];
  for (const [name, links, lr] of runs) {
    const c = torchCase(name);
    const ps = await params(c);
    const opt = new Optimizer(ps, links(), { lr });
    const err = await runCase(c, ps, opt);
    opt.dispose();
    ps.forEach((p) => p.dispose());
    assert(err <= 1e-5, `${name}: relative error ${err.toExponential(2)}`);
  }
});

Deno.test("clip: below the threshold nothing changes; above, the global norm becomes maxNorm", async () => {
  await initGpu();
  const a0 = [3, 0, 0], b0 = [0, 4];
  // global norm 5: with maxNorm 10 SGD sees the raw gradient, with maxNorm 1 a fifth of it
  for (const [maxNorm, f] of [[10, 1], [1, 1 / (5 + 1e-6)]]) {
    const a = param([0, 0, 0]), b = param([0, 0]);
    const opt = new Optimizer([a, b], [clipGradNorm({ maxNorm }), sgd()], { lr: 1 });
    a.grad = param(a0).keep();
    b.grad = param(b0).keep();
    opt.step();
    const wa = await a.data(), wb = await b.data();
    assert(relErr(wa, a0.map((g) => -g * f)) <= 1e-6, `maxNorm ${maxNorm}: ${wa}`);
    assert(relErr(wb, b0.map((g) => -g * f)) <= 1e-6, `maxNorm ${maxNorm}: ${wb}`);
    opt.zeroGrad();
    opt.dispose();
    a.dispose();
    b.dispose();
  }
});

Deno.test("clip sees the gradient after the stateless links before it (l2 > clip)", async () => {
  await initGpu();
  const w0 = [1, 2, 2], g0 = [0, 0, 0];
  const p = param(w0);
  // direction = 0.5·w, norm 1.5 → clipped to 0.3
  const opt = new Optimizer([p], [l2({ lambda: 0.5 }), clipGradNorm({ maxNorm: 0.3 }), sgd()], {
    lr: 1,
  });
  const got = await runOne(p, opt, [g0]);
  const want = sgdRef(w0, [g0], 1, (_g, w) => 0.5 * w * (0.3 / (1.5 + 1e-6)));
  assert(relErr(got, want) <= 1e-6, `${got} vs ${want}`);
  opt.dispose();
  p.dispose();
});

Deno.test("clip: one reduction per parameter window plus one finishing kernel, no readback", async () => {
  await initGpu();
  const ps = [param([1, 2, 3]), param([4, 5]), param([6])];
  const opt = new Optimizer(ps, [clipGradNorm(), sgd()], { lr: 0.1 });
  ps.forEach((p) => (p.grad = param([...Array(p.size)].map(() => 1)).keep()));
  const g = gpu() as unknown as Record<string, unknown>;
  const read = g.read;
  g.read = () => {
    throw new Error("readback inside step()");
  };
  const before = gpu().stats().dispatches;
  try {
    opt.step();
  } finally {
    g.read = read;
  }
  // 3 reductions, 1 finish, then the updates: one kernel for all three parameters where
  // the storage bindings allow it (records, norm, and gradient + weight each), else three.
  const fits = gpu().device.limits.maxStorageBuffersPerShaderStage >= 2 + 3 * 2;
  assertEquals(gpu().stats().dispatches - before, 3 + 1 + (fits ? 1 : 3));
  opt.zeroGrad();
  opt.dispose();
  ps.forEach((p) => p.dispose());
});
