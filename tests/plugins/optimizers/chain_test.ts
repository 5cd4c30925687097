/**
 * The optimizer machinery: one fused kernel per group of parameters, no readback inside
 * step(), lr changes without recompiling, exact save/restore of the state, frozen
 * parameters that cost nothing, and clear errors.
 */
import { assert, assertEquals, assertRejects } from "../../assert.ts";
import { gpu, initGpu } from "../../../core/gpu.ts";
import { Rng } from "../../../core/random.ts";
import { fromArray, type Tensor } from "../../../core/tensor.ts";
import { type Link, Optimizer } from "../../../plugins/optimizers/chain.ts";
import { adam } from "../../../plugins/optimizers/adam.ts";
import { momentum } from "../../../plugins/optimizers/momentum.ts";
import { rmsprop } from "../../../plugins/optimizers/rmsprop.ts";
import { sgd } from "../../../plugins/optimizers/sgd.ts";
import { clipGradNorm } from "../../../plugins/regularizers/clip.ts";
import { l1 } from "../../../plugins/regularizers/l1.ts";
import { l2 } from "../../../plugins/regularizers/l2.ts";
import { weightDecay } from "../../../plugins/regularizers/weight_decay.ts";

const SHAPES = [[16, 9], [9], [33], [4, 4]];

async function setup(seed = 1): Promise<{ ps: Tensor[]; grads: Float32Array[][] }> {
  await initGpu();
  const rng = new Rng(seed);
  const rand = (n: number) => Float32Array.from({ length: n }, () => rng.uniform(-1, 1));
  const ps = SHAPES.map((s, k) => {
    const t = fromArray(rand(s.reduce((a, b) => a * b, 1)), s).keep();
    t.requiresGrad = true;
    t.name = `p${k}`;
    return t;
  });
  const grads = [...Array(8)].map(() => ps.map((p) => rand(p.size)));
  return { ps, grads };
}

function feed(ps: Tensor[], g: Float32Array[], skip: number[] = []): void {
  ps.forEach((p, k) => {
    p.grad?.dispose();
    p.grad = skip.includes(k) ? null : fromArray(g[k], p.shape).keep();
  });
}

/** Makes gpu().read and gpu().sync throw while `fn` runs. */
function noReadback(fn: () => void): void {
  const g = gpu() as unknown as Record<string, unknown>;
  const read = g.read, sync = g.sync;
  g.read = () => {
    throw new Error("readback inside step()");
  };
  g.sync = g.read;
  try {
    fn();
  } finally {
    g.read = read;
    g.sync = sync;
  }
}

const dispose = (ps: Tensor[]) => ps.forEach((p) => (p.grad?.dispose(), p.dispose()));

/**
 * Update dispatches for `n` one-window parameters: one a group of as many as the storage
 * bindings allow (records, norm, then gradient, weight and slots each), one each if only one fits.
 */
function updates(n: number, slots: number, norm: boolean): number {
  const cap = Math.floor(
    (gpu().device.limits.maxStorageBuffersPerShaderStage - 1 - (norm ? 1 : 0)) / (2 + slots),
  );
  if (cap < 2) return n;
  return Math.ceil(n / cap);
}

Deno.test("one fused kernel per group of parameters, whatever the chain; no readback in step()", async () => {
  const { ps, grads } = await setup();
  const n = ps.length;
  const chains: [string, Link[], number][] = [
    ["sgd", [sgd()], updates(n, 0, false)],
    [
      "l1 > l2 > weight_decay > adam(amsgrad)",
      [l1(), l2(), weightDecay(), adam({ amsgrad: true })],
      updates(n, 3, false),
    ],
    [
      "rmsprop centered + momentum",
      [rmsprop({ centered: true, momentum: 0.5 })],
      updates(n, 3, false),
    ],
    // clipping adds one reduction per window and one finishing kernel
    ["clip > l2 > momentum", [clipGradNorm(), l2(), momentum()], updates(n, 1, true) + n + 1],
  ];
  for (const [name, links, want] of chains) {
    const opt = new Optimizer(ps, links, { lr: 0.01 });
    for (let s = 0; s < 3; s++) {
      feed(ps, grads[s]);
      const before = gpu().stats().dispatches;
      noReadback(() => opt.step());
      const got = gpu().stats().dispatches - before;
      assertEquals(got, want, `${name}: ${got} dispatches for ${n} parameters`);
    }
    await gpu().sync();
    opt.dispose();
  }
  dispose(ps);
});

Deno.test("frozen parameters and parameters without a gradient are skipped and cost nothing", async () => {
  const { ps, grads } = await setup(2);
  ps[0].requiresGrad = false;
  const w0 = await ps[0].data(), w3 = await ps[3].data();
  const opt = new Optimizer(ps, [clipGradNorm(), adam()], { lr: 0.1 });
  feed(ps, grads[0], [0, 3]);
  const before = gpu().stats().dispatches;
  opt.step();
  // two parameters: two reductions, one finish, their updates (one group of two)
  assertEquals(gpu().stats().dispatches - before, 3 + updates(2, 2, true));
  const st = await opt.state();
  assertEquals(st.params.map((p) => p.step), [0, 1, 1, 0]);
  assertEquals(Object.keys(st.params[0].slots).length, 0);
  assertEquals(Object.keys(st.params[3].slots).length, 0);
  assertEquals([...await ps[0].data()], [...w0]);
  assertEquals([...await ps[3].data()], [...w3]);
  opt.dispose();
  dispose(ps);
});

Deno.test("lr, per-group hyper-parameters and per-step scalars change without recompiling", async () => {
  const { ps, grads } = await setup(3);
  const opt = new Optimizer(
    [{ params: ps.slice(0, 2) }, { params: ps.slice(2), lr: 0.002, beta1: 0.5, l2: 0 }],
    [clipGradNorm({ maxNorm: 0.5 }), l2(), adam()],
    { lr: 0.01 },
  );
  feed(ps, grads[0]);
  opt.step();
  await gpu().sync();
  const pipelines = gpu().stats().pipelines;
  for (let s = 1; s < 8; s++) {
    opt.lr = 0.01 * 0.9 ** s;
    opt.setHyper({ beta2: 0.99 - s * 0.01, maxNorm: 0.5 + s });
    opt.setHyper({ l2: s * 1e-3 }, 1);
    feed(ps, grads[s]);
    opt.step();
  }
  await gpu().sync();
  assertEquals(gpu().stats().pipelines, pipelines, "a pipeline was compiled after the first step");
  assert(Math.abs(opt.hyper(1).lr - 0.002 * 0.9 ** 7) < 1e-12, `group lr ${opt.hyper(1).lr}`);
  assertEquals(opt.hyper(1).beta1, 0.5);
  opt.dispose();
  dispose(ps);
});

Deno.test("state() / loadState() restore exactly: resumed steps equal uninterrupted ones bitwise", async () => {
  const links = () => [clipGradNorm({ maxNorm: 2 }), l2({ lambda: 0.01 }), adam({ amsgrad: true })];
  const a = await setup(4);
  const optA = new Optimizer(
    [{ params: a.ps.slice(0, 3) }, { params: a.ps.slice(3), lr: 0.003 }],
    links(),
    { lr: 0.01 },
  );
  for (let s = 0; s < 3; s++) {
    feed(a.ps, a.grads[s], s === 1 ? [2] : []);
    optA.step();
  }
  optA.lr = 0.005;
  const saved = await optA.state();
  const weights = await Promise.all(a.ps.map((p) => p.data()));
  // through JSON and plain arrays, as a checkpoint would
  const json = JSON.parse(
    JSON.stringify(saved, (_k, v) => (v instanceof Float32Array ? Array.from(v) : v)),
  );
  for (let s = 3; s < 6; s++) {
    feed(a.ps, a.grads[s]);
    optA.step();
  }
  const want = await Promise.all(a.ps.map((p) => p.data()));

  const b = await setup(99);
  b.ps.forEach((p, k) => gpu().upload(p.buffer, weights[k]));
  const optB = new Optimizer(
    [{ params: b.ps.slice(0, 3) }, { params: b.ps.slice(3) }],
    links(),
    { lr: 1 },
  );
  optB.loadState(json);
  assertEquals(optB.lr, 0.005);
  assertEquals(optB.hyper(1).lr, 0.0015);
  assertEquals(json.params.map((p: { step: number }) => p.step), [3, 3, 2, 3]);
  for (let s = 3; s < 6; s++) {
    feed(b.ps, a.grads[s]);
    optB.step();
  }
  for (let k = 0; k < b.ps.length; k++) {
    assertEquals([...await b.ps[k].data()], [...want[k]], `parameter ${k} differs after resuming`);
  }
  const sa = await optA.state(), sb = await optB.state();
  assertEquals(JSON.stringify(sb.params), JSON.stringify(sa.params));
  await assertRejects(() => new Optimizer(b.ps, [sgd()]).loadState(saved), /chain/);
  optA.dispose();
  optB.dispose();
  dispose(a.ps);
  dispose(b.ps);
});

Deno.test("clear errors: unknown or clashing hyper-parameters, stateful link before clipping", async () => {
  const { ps } = await setup(5);
  await assertRejects(
    () => new Optimizer(ps, [adam()], { beta3: 1 }),
    /unknown hyper-parameter "beta3".*beta1/,
  );
  await assertRejects(
    () => new Optimizer([{ params: ps, momentum: 0.5 }], [adam()]),
    /unknown.*momentum/,
  );
  await assertRejects(() => new Optimizer(ps, [adam(), rmsprop()]), /"eps".*also used/);
  await assertRejects(() => new Optimizer(ps, [adam(), clipGradNorm()]), /stateless.*"adam"/);
  await assertRejects(() => new Optimizer([ps[0], ps[0]], [sgd()]), /twice/);
  await assertRejects(() => new Optimizer(ps, []), /no links/);
  dispose(ps);
});

Deno.test("records read as a uniform buffer, or as storage past one uniform binding: same bits, Adam's values", async () => {
  await initGpu();
  const rng = new Rng(9);
  const rand = (n: number) => Float32Array.from({ length: n }, () => rng.uniform(-1, 1));
  // One group of parameters where the adapter's bindings allow groups (2 slots for Adam).
  const cap = Math.floor((gpu().device.limits.maxStorageBuffersPerShaderStage - 1) / 4);
  const w0 = [...Array(Math.max(2, Math.min(6, cap)))].map(() => rand(5));
  const gs = [...Array(3)].map(() => w0.map(() => rand(5)));
  // Past 64 KiB of records (256 B each) the grouped kernel reads them as storage: padding
  // parameters without gradients take records but no updates.
  const extra = Math.ceil(gpu().device.limits.maxUniformBufferBindingSize / 256);
  const runWith = async (padding: number) => {
    const ps = [...w0, ...[...Array(padding)].map(() => new Float32Array(1))].map((w, k) => {
      const t = fromArray(w, [w.length]).keep();
      t.requiresGrad = true;
      t.name = `p${k}`;
      return t;
    });
    const opt = new Optimizer(ps, [adam()], { lr: 0.01 });
    const decls = new Set<string>();
    const prev = gpu().setHook({
      dispatch: (d) => void decls.add(/var<(uniform|storage, read)> r:/.exec(d.code)?.[1] ?? "-"),
      command: () => {},
      beforeSubmit: () => {},
    });
    for (const g of gs) {
      g.forEach((gk, k) => {
        ps[k].grad?.dispose();
        ps[k].grad = fromArray(gk, ps[k].shape).keep();
      });
      opt.step();
    }
    gpu().setHook(prev);
    const out = await Promise.all(ps.slice(0, w0.length).map((p) => p.data()));
    opt.dispose();
    dispose(ps);
    return { out, decls: [...decls] };
  };
  const uni = await runWith(0), sto = await runWith(extra);
  assertEquals(uni.decls, ["uniform"]);
  assertEquals(sto.decls, [cap >= 2 ? "storage, read" : "uniform"]);
  uni.out.forEach((w, k) => assertEquals([...w], [...sto.out[k]], `parameter ${k}`));
  // Adam in float64 (PyTorch's form): the values themselves.
  w0.forEach((w, k) => {
    const x = Float64Array.from(w), m = new Float64Array(5), v = new Float64Array(5);
    gs.forEach((g, s) => {
      const t = s + 1;
      for (let i = 0; i < 5; i++) {
        m[i] = 0.9 * m[i] + 0.1 * g[k][i];
        v[i] = 0.999 * v[i] + 0.001 * g[k][i] ** 2;
        const mh = m[i] / (1 - 0.9 ** t), vh = v[i] / (1 - 0.999 ** t);
        x[i] -= 0.01 * mh / (Math.sqrt(vh) + 1e-8);
      }
    });
    for (let i = 0; i < 5; i++) {
      assert(Math.abs(uni.out[k][i] - x[i]) <= 1e-6 * Math.max(1, Math.abs(x[i])), `p${k}[${i}]`);
    }
  });
});
