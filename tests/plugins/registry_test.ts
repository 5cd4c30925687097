/**
 * The plugin registry: every pooling plugin is found by name; a duplicate or unknown name
 * is an error that lists what exists; and plugins written here, outside plugins/, of each
 * kind (pooling, stage, optimizer, regularizer) register and run without editing any
 * project file. The median pool, clip stage, signum and clipvalue links below are the
 * examples of plugins/README.md.
 */
import { assert, assertEquals, assertRejects } from "../assert.ts";
import { checkOp } from "../core/ops/check.ts";
import { backward, record } from "../../core/autograd.ts";
import { gpu, initGpu } from "../../core/gpu.ts";
import { Flatten } from "../../core/nn/activation.ts";
import { Module } from "../../core/nn/module.ts";
import { Sequential } from "../../core/nn/sequential.ts";
import { mul } from "../../core/ops/elementwise.ts";
import { decls, grid, main1d, run } from "../../core/ops/kernel.ts";
import { sum } from "../../core/ops/reduce.ts";
import { empty, fromArray, type Tensor, tidy } from "../../core/tensor.ts";
import type { Link, Optimizer } from "../../plugins/optimizers/chain.ts";
import { optimizerPlugin, type OptimizerPluginOptions } from "../../plugins/optimizers/plugin.ts";
import { create, find, names, type Plugin, register, unregister } from "../../plugins/registry.ts";
import "../../plugins/pooling/index.ts";
import { maxPoolPlugin } from "../../plugins/pooling/max.ts";
import type { Batch } from "../../stages/types.ts";

// ---- a pooling plugin: median of each k×k window --------------------------------------

/** Median (the lower one for even k·k) of each k×k window, stride k, no padding. */
export function medianPool2d(x: Tensor, k: number): Tensor {
  const [N, C, H, W] = x.shape;
  const OH = Math.floor(H / k), OW = Math.floor(W / k), K = k * k, M = (K - 1) >> 1;
  const y = empty([N, C, OH, OW]);
  const tap = empty(y.shape); // which tap of the window was the median (as f32)
  run(
    `${decls(["x", "y", "tap"], 2)}
${main1d(y.size)}
  let p = i / ${OH * OW}u;
  let oh = (i / ${OW}u) % ${OH}u;
  let ow = i % ${OW}u;
  var v: array<f32, ${K}>;
  var t: array<u32, ${K}>;
  for (var j = 0u; j < ${K}u; j++) {
    v[j] = x[(p * ${H}u + oh * ${k}u + j / ${k}u) * ${W}u + ow * ${k}u + j % ${k}u];
    t[j] = j;
  }
  for (var a = 1u; a < ${K}u; a++) { // insertion sort: K is small
    var b = a;
    while (b > 0u && v[b - 1u] > v[b]) {
      let tv = v[b]; v[b] = v[b - 1u]; v[b - 1u] = tv;
      let tt = t[b]; t[b] = t[b - 1u]; t[b - 1u] = tt;
      b--;
    }
  }
  y[i] = v[${M}u];
  tap[i] = f32(t[${M}u]);
}`,
    [x, y, tap],
    grid(y.size),
  );
  // The backward rule sits beside the forward: the gradient goes to the median tap.
  record("medianPool2d", y, [x], (g, [, tap]) => {
    const dx = empty(x.shape);
    run(
      `${decls(["g", "tap", "dx"])}
${main1d(x.size)}
  let p = i / ${H * W}u;
  let ih = (i / ${W}u) % ${H}u;
  let iw = i % ${W}u;
  var d = 0.0;
  if (ih / ${k}u < ${OH}u && iw / ${k}u < ${OW}u) {
    let o = (p * ${OH}u + ih / ${k}u) * ${OW}u + iw / ${k}u;
    if (tap[o] == f32((ih % ${k}u) * ${k}u + iw % ${k}u)) { d = g[o]; }
  }
  dx[i] = d;
}`,
      [g, tap, dx],
      grid(x.size),
    );
    return [dx];
  }, [tap]);
  tap.dispose(); // record() holds its own reference while the graph lives
  return y;
}

/** The layer. */
class MedianPool2d extends Module {
  constructor(readonly kernel: number) {
    super();
  }
  forward(x: Tensor): Tensor {
    return medianPool2d(x, this.kernel);
  }
}

const medianPlugin: Plugin<{ kernel: number }, MedianPool2d> = {
  kind: "pooling",
  name: "medianpool",
  description: "median of each k×k window (stride k)",
  create: ({ kernel }) => new MedianPool2d(kernel),
};

function medianRef([x]: Float64Array[], [[N, C, H, W]]: number[][], k: number): Float64Array {
  const OH = Math.floor(H / k), OW = Math.floor(W / k);
  const out = new Float64Array(N * C * OH * OW);
  for (let p = 0; p < N * C; p++) {
    for (let oh = 0; oh < OH; oh++) {
      for (let ow = 0; ow < OW; ow++) {
        const v: number[] = [];
        for (let a = 0; a < k; a++) {
          for (let b = 0; b < k; b++) v.push(x[(p * H + oh * k + a) * W + ow * k + b]);
        }
        v.sort((s, t) => s - t);
        out[(p * OH + oh) * OW + ow] = v[(k * k - 1) >> 1];
      }
    }
  }
  return out;
}

// ---- a stage plugin: clip batch values to [min, max] ------------------------------------

const clipStage: Plugin<{ min?: number; max?: number }, TransformStream<Batch, Batch>> = {
  kind: "stage",
  name: "clip",
  description: "clamps every input value of a batch to [min, max]",
  create: ({ min = -1, max = 1 }) =>
    new TransformStream<Batch, Batch>({
      transform(batch, controller) {
        const x = batch.x.map((v) => Math.min(max, Math.max(min, v)));
        controller.enqueue({ ...batch, x });
      },
    }),
};

// ---- an optimizer plugin (a stateful link) and a regularizer plugin (a stateless link) --

/** Signum: m ← βm + (1−β)g, w ← w − η·sign(m). `create` returns an Optimizer. */
const signumPlugin: Plugin<OptimizerPluginOptions & { beta?: number }, Optimizer> = optimizerPlugin(
  "signum",
  "sign of momentum",
  0.01,
  ({ beta = 0.9 }: { beta?: number }) => ({
    name: "signum",
    hyper: { beta },
    init: { m: 0 },
    scalars: ({ h }) => ({ beta: h.beta }),
    update: (v) =>
      `    ${v.slot("m")} = ${v.s("beta")} * ${v.slot("m")} + (1.0 - ${v.s("beta")}) * g;
    w = w - ${v.lr} * sign(${v.slot("m")});`,
  }),
);

/** Clips each gradient element to [−clip, clip] before the optimizer sees it. */
const clipValuePlugin: Plugin<{ clip?: number }, Link> = {
  kind: "regularizer",
  name: "clipvalue",
  create: ({ clip = 1 }) => ({
    name: "clipvalue",
    hyper: { clip },
    init: {},
    scalars: ({ h }) => ({ clip: h.clip }),
    update: (v) => `    g = clamp(g, -${v.s("clip")}, ${v.s("clip")});`,
  }),
};

// ---- tests ------------------------------------------------------------------------------

const POOLING = [
  "adaptiveavgpool",
  "avgpool",
  "globalavgpool",
  "globalmaxpool",
  "l2pool",
  "lppool",
  "maxpool",
];

Deno.test("pooling plugins: all registered by index.ts, found by name (any case)", async () => {
  await initGpu();
  for (const n of POOLING) assert(names("pooling").includes(n), `${n} not registered`);
  assertEquals(names("pooling"), [...POOLING].sort());
  assertEquals(find("pooling", "MaxPool").name, "maxpool");
  const x = fromArray(Float32Array.from({ length: 2 * 3 * 8 * 8 }, (_, i) => Math.cos(i)), [
    2,
    3,
    8,
    8,
  ]);
  const want: Record<string, [string, object, number[]]> = {
    maxpool: ["maxpool", { kernel: 2 }, [2, 3, 4, 4]],
    avgpool: ["avgpool", { kernel: 3, stride: 2, padding: 1 }, [2, 3, 4, 4]],
    l2pool: ["l2pool", { kernel: 2 }, [2, 3, 4, 4]],
    lppool: ["lppool", { kernel: 4, p: 3 }, [2, 3, 2, 2]],
    globalavgpool: ["globalavgpool", {}, [2, 3, 1, 1]],
    globalmaxpool: ["globalmaxpool", {}, [2, 3, 1, 1]],
    adaptiveavgpool: ["adaptiveavgpool", { output: [7, 5] }, [2, 3, 7, 5]],
  };
  for (const [name, opts, shape] of Object.values(want)) {
    const m = create<Module>("pooling", name, opts);
    assert(m instanceof Module, `${name} did not create a Module`);
    const y = tidy(() => new Sequential(m).forward(x));
    assertEquals([...y.shape], shape, `${name}: shape`);
    y.dispose();
  }
  await assertRejects(() => create("pooling", "l2pool", { kernel: 2, p: 3 }), /p is always 2/);
  x.dispose();
});

Deno.test("registering a name twice is an error listing what exists", async () => {
  await assertRejects(
    () => register({ ...maxPoolPlugin }),
    /pooling plugin named "maxpool" is already registered; registered pooling plugins: adaptiveavgpool, avgpool, globalavgpool, globalmaxpool, l2pool, lppool, maxpool/,
  );
  await assertRejects(() => register({ ...maxPoolPlugin, name: "MAXPOOL" }), /already registered/);
});

Deno.test("an unknown name is an error listing what exists", async () => {
  await assertRejects(
    () => create("pooling", "minpool"),
    /no pooling plugin named "minpool"; registered pooling plugins: adaptiveavgpool, avgpool, globalavgpool, globalmaxpool, l2pool, lppool, maxpool/,
  );
  await assertRejects(
    () => find("stage", "no-such-stage"),
    /no stage plugin named "no-such-stage"; registered stage plugins: /,
  );
});

Deno.test("a pooling plugin written outside plugins/ registers and trains", async () => {
  register(medianPlugin);
  try {
    const shape = [2, 3, 7, 9];
    await checkOp(
      (x) => create<Module>("pooling", "medianpool", { kernel: 3 }).forward(x),
      (xs, s) => medianRef(xs, s, 3),
      [shape],
      { probes: 60 },
    );
    await checkOp((x) => medianPool2d(x, 2), (xs, s) => medianRef(xs, s, 2), [shape], {
      probes: 60,
    });
    // in a network, with backward, and nothing leaks
    const net = new Sequential(
      create<Module>("pooling", "medianpool", { kernel: 2 }),
      new Flatten(),
    );
    const x = fromArray(Float32Array.from({ length: 2 * 3 * 4 * 4 }, (_, i) => (i * 7) % 11), [
      2,
      3,
      4,
      4,
    ]);
    x.requiresGrad = true;
    // Tensors left to the garbage collector by the checks above give their buffers back
    // whenever a FinalizationRegistry callback runs, which is only ever between tasks,
    // never inside synchronous code. So each count below is a difference taken around a
    // synchronous block: it sees exactly what that block allocated or freed.
    const before = gpu().stats().liveBuffers;
    tidy(() => backward(sum(net.forward(x))));
    const added = gpu().stats().liveBuffers - before;
    assertEquals(added, 1, `forward + backward left ${added} new live buffers, not 1 (x's grad)`);
    const grad = x.grad!;
    const g = await grad.data();
    assertEquals(g.reduce((a, b) => a + b, 0), 2 * 3 * 2 * 2); // one tap per window
    const held = gpu().stats().liveBuffers;
    grad.dispose();
    x.dispose();
    const freed = held - gpu().stats().liveBuffers;
    assertEquals(freed, 2, `disposing x and its gradient freed ${freed} buffers, not 2`);
  } finally {
    unregister("pooling", "medianpool");
  }
});

Deno.test("a stage plugin written outside plugins/ registers and runs in a stream", async () => {
  register(clipStage);
  try {
    const batch: Batch = {
      x: Float32Array.from([-3, -0.5, 0, 0.5, 3, 9]),
      shape: [1, 1, 2, 3],
      labels: Int32Array.from([1]),
      paths: ["a.jpg"],
    };
    const out: Batch[] = [];
    await ReadableStream.from([batch])
      .pipeThrough(create<TransformStream<Batch, Batch>>("stage", "clip", { min: -1, max: 2 }))
      .pipeTo(new WritableStream({ write: (b) => void out.push(b) }));
    assertEquals(Array.from(out[0].x), [-1, -0.5, 0, 0.5, 2, 2]);
    assertEquals(out[0].paths, ["a.jpg"]);
  } finally {
    unregister("stage", "clip");
  }
});

Deno.test("optimizer and regularizer plugins written outside plugins/ chain and step", async () => {
  await initGpu();
  register(signumPlugin);
  register(clipValuePlugin);
  try {
    const w = fromArray([1, 2, 3, 4], [4]).keep();
    w.requiresGrad = true;
    const opt = create<Optimizer>("optimizer", "signum", {
      params: [w],
      lr: 0.1,
      beta: 0.75,
      regularizers: [{ name: "clipvalue", clip: 0.5 }],
    });
    assertEquals(opt.chainName, "clipvalue>signum");
    tidy(() => backward(sum(mul(w, fromArray([2, -0.25, 0, -4])))));
    opt.step();
    // g = [2, -0.25, 0, -4] → clipped [0.5, -0.25, 0, -0.5]; m = 0.25·clipped; w −= 0.1·sign(m)
    assertEquals(Array.from(await w.data()), [0.9, 2.1, 3, 4.1].map(Math.fround));
    const s = await opt.state();
    assertEquals(Array.from(s.params[0].slots["signum.m"]), [0.125, -0.0625, 0, -0.125]);
    opt.zeroGrad();
    opt.dispose();
    w.dispose();
  } finally {
    unregister("optimizer", "signum");
    unregister("regularizer", "clipvalue");
  }
});
