import { assert, assertEquals, assertRejects } from "../../assert.ts";
import { gpu, initGpu } from "../../../core/gpu.ts";
import { batchNorm } from "../../../core/ops/batchnorm.ts";
import type { Rng } from "../../../core/random.ts";
import { fromArray, tidy } from "../../../core/tensor.ts";
import { checkOp, relErr } from "./check.ts";

/** [C, S, M] of an [N, C, …] shape. */
function dims(shape: number[]): [number, number, number] {
  const C = shape[1], S = shape.slice(2).reduce((p, d) => p * d, 1);
  return [C, S, shape[0] * S];
}

/** Per-channel mean and biased variance (float64). */
function stats(x: Float64Array, shape: number[]): { mean: number[]; v: number[] } {
  const [C, S, M] = dims(shape);
  const mean = new Array(C).fill(0), v = new Array(C).fill(0);
  for (let i = 0; i < x.length; i++) mean[Math.floor(i / S) % C] += x[i] / M;
  for (let i = 0; i < x.length; i++) {
    const c = Math.floor(i / S) % C;
    v[c] += (x[i] - mean[c]) ** 2 / M;
  }
  return { mean, v };
}

/** y = (x − μ)/√(σ² + ε)·γ + β with the given per-channel μ, σ². */
function normalize(
  x: Float64Array,
  shape: number[],
  mean: ArrayLike<number>,
  v: ArrayLike<number>,
  w: ArrayLike<number> | null,
  b: ArrayLike<number> | null,
  eps: number,
): Float64Array {
  const [C, S] = dims(shape);
  return x.map((xi, i) => {
    const c = Math.floor(i / S) % C;
    return (xi - mean[c]) / Math.sqrt(v[c] + eps) * (w ? w[c] : 1) + (b ? b[c] : 0);
  });
}

const trainRef = (eps = 1e-5) => ([x, w, b]: Float64Array[], [s]: number[][]) => {
  const { mean, v } = stats(x, s);
  return normalize(x, s, mean, v, w ?? null, b ?? null, eps);
};

// (M = 2 per channel is left out of the gradient check: x̂ = ±1 exactly, so dx is ~0 and
// only f32 rounding remains.)
// [6, 8] and [2, 3, 4, 6] take the vec4 kernels (channels, resp. planes, a multiple of 4);
// [2, 3, 16, 18] also the vec4 reductions (planes of at least 4 × 64 values, the most threads
// a channel's reduction takes), [3, 2, 6, 6] on software adapters (8 threads: planes of at
// least 4 × 8); [20, 3, 2, 2] reduces with a flat stride (planes shorter than the threads).
const SHAPES = [
  [2, 3, 16, 18],
  [7, 5],
  [65, 3],
  [3, 1],
  [6, 8],
  [4, 3, 5, 6],
  [2, 3, 4, 6],
  [3, 7, 1, 9],
  [2, 2, 13, 11],
  [5, 4, 3],
  [3, 2, 6, 6],
  [20, 3, 2, 2],
];
const gen = (
  r: Rng,
  k: number,
) => (k === 0 ? r.uniform(-2, 3) : k === 1 ? r.uniform(0.3, 2) : r.uniform(-1, 1));

Deno.test("batchNorm training: forward and gradients (x, γ, β) on [N,C], [N,C,L], [N,C,H,W]", async () => {
  for (const s of SHAPES) {
    const C = s[1];
    await checkOp(
      (x, w, b) => batchNorm(x, w, b, null, null, { training: true }),
      trainRef(),
      [s, [C], [C]],
      { gen },
    );
  }
});

Deno.test("batchNorm training without γ, β (affine off) and with a large ε", async () => {
  for (const s of [[9, 4], [3, 5, 4, 4]]) {
    await checkOp(
      (x) => batchNorm(x, null, null, null, null, { training: true, eps: 0.5 }),
      trainRef(0.5),
      [s],
      { gen },
    );
  }
});

Deno.test("batchNorm with fused ReLU: forward and gradients, training and eval, scalar and vec4", async () => {
  const relu = (y: Float64Array) => y.map((v) => Math.max(v, 0));
  // Outputs away from ReLU's kink, so central differences stay on one side of it: x in two
  // clusters (|x| ≥ 1) around a small mean, small β and running mean.
  const far = (r: Rng, k: number) =>
    k === 0 ? (r.next() < 0.5 ? r.uniform(-3, -1) : r.uniform(1, 3)) : gen(r, k);
  for (const s of [[7, 5], [6, 8], [4, 3, 5, 6], [2, 3, 4, 6], [2, 3, 16, 18]]) {
    const C = s[1];
    await checkOp(
      (x, w) => batchNorm(x, w, null, null, null, { training: true, relu: true }),
      ([x, w]: Float64Array[], shapes: number[][]) => relu(trainRef()([x, w], shapes)),
      [s, [C]],
      { gen: far },
    );
    const evalRef = ([x, w, b, rm, rv]: Float64Array[], [sh]: number[][]) =>
      relu(normalize(x, sh, rm, rv, w, b, 1e-5));
    const g = (r: Rng, k: number) =>
      k === 4 ? r.uniform(0.2, 3) : k >= 2 ? r.uniform(-0.1, 0.1) : far(r, k);
    await checkOp(
      (x, w, b, rm, rv) => batchNorm(x, w, b, rm, rv, { training: false, relu: true }),
      evalRef,
      [s, [C], [C], [C], [C]],
      { gen: g, noGrad: [3, 4] },
    );
  }
});

Deno.test("batchNorm eval: running statistics normalise; gradients for x, γ, β", async () => {
  const evalRef = ([x, w, b, rm, rv]: Float64Array[], [s]: number[][]) =>
    normalize(x, s, rm, rv, w, b, 1e-5);
  const g = (r: Rng, k: number) => (k === 4 ? r.uniform(0.2, 3) : gen(r, k));
  for (const s of [[7, 5], [4, 3, 5, 6], [1, 6, 2, 2]]) {
    const C = s[1];
    await checkOp(
      (x, w, b, rm, rv) => batchNorm(x, w, b, rm, rv, { training: false }),
      evalRef,
      [s, [C], [C], [C], [C]],
      { gen: g, noGrad: [3, 4] },
    );
    // Without autograd (the fused one-dispatch path).
    await checkOp(
      (x, w, b, rm, rv) => batchNorm(x, w, b, rm, rv, { training: false }),
      evalRef,
      [s, [C], [C], [C], [C]],
      { gen: g, noGrad: [0, 1, 2, 3, 4] },
    );
  }
});

async function runningCase(
  shape: number[],
  opts: { momentum: number | null; unbiased: boolean },
  steps: number,
): Promise<void> {
  await initGpu();
  const [C, , M] = dims(shape);
  const rng = {
    s: 7,
    next() {
      this.s = (this.s * 16807) % 2147483647;
      return this.s / 2147483647;
    },
  };
  const rmRef = new Array(C).fill(0), rvRef = new Array(C).fill(1);
  const rm = fromArray(new Float32Array(C), [C]), rv = fromArray(new Float32Array(C).fill(1), [C]);
  const nbt = fromArray([0], []);
  let lastY: Float32Array | null = null, lastRef: Float64Array | null = null;
  for (let step = 0; step < steps; step++) {
    const x = Float64Array.from(
      { length: shape.reduce((p, d) => p * d, 1) },
      (_, i) =>
        Math.fround((rng.next() * 4 - 2) * (1 + step) + (Math.floor(i / (M / shape[0])) % C)),
    );
    const y = tidy(() =>
      batchNorm(fromArray(x, shape), null, null, rm, rv, {
        training: true,
        momentum: opts.momentum,
        unbiasedRunningVar: opts.unbiased,
        numBatchesTracked: nbt,
      })
    );
    const { mean, v } = stats(x, shape);
    const m = opts.momentum ?? 1 / (step + 1);
    for (let c = 0; c < C; c++) {
      rmRef[c] = (1 - m) * rmRef[c] + m * mean[c];
      rvRef[c] = (1 - m) * rvRef[c] + m * v[c] * (opts.unbiased ? M / (M - 1) : 1);
    }
    lastY = await y.data();
    lastRef = normalize(x, shape, mean, v, null, null, 1e-5);
    y.dispose();
  }
  assert(relErr(lastY!, lastRef!) < 1e-5, "forward");
  const e1 = relErr(await rm.data(), rmRef), e2 = relErr(await rv.data(), rvRef);
  assert(e1 < 1e-5 && e2 < 1e-5, `running stats error ${e1}, ${e2}`);
  assertEquals(await nbt.item(), steps);
  for (const t of [rm, rv, nbt]) t.dispose();
}

Deno.test("batchNorm running statistics: momentum 0.1, unbiased variance, counter, after 4 steps", async () => {
  await runningCase([6, 5], { momentum: 0.1, unbiased: true }, 4);
  await runningCase([3, 4, 5, 7], { momentum: 0.1, unbiased: true }, 4);
});

Deno.test("batchNorm running statistics: cumulative average (momentum null) and ONNX's biased form", async () => {
  await runningCase([3, 4, 5, 7], { momentum: null, unbiased: true }, 3);
  await runningCase([5, 3, 2, 2], { momentum: 0.25, unbiased: false }, 3);
});

Deno.test("batchNorm: training forward is two dispatches recorded, nothing submitted or read back", async () => {
  const g = await initGpu();
  await g.sync();
  const x = fromArray(Float32Array.from({ length: 4 * 3 * 5 * 5 }, (_, i) => Math.sin(i)), [
    4,
    3,
    5,
    5,
  ]);
  const rm = fromArray([0, 0, 0]), rv = fromArray([1, 1, 1]), nbt = fromArray([0], []);
  const before = gpu().stats();
  const y = batchNorm(x, null, null, rm, rv, { training: true, numBatchesTracked: nbt });
  const after = gpu().stats();
  assertEquals(after.dispatches - before.dispatches, 2);
  assertEquals(after.submits - before.submits, 0);
  for (const t of [x, rm, rv, nbt, y]) t.dispose();
});

Deno.test("batchNorm: clear errors for bad shapes and one value per channel in training", async () => {
  await initGpu();
  const x = fromArray([1, 2, 3], [1, 3]);
  const v2 = fromArray([1, 1]);
  await assertRejects(
    () => batchNorm(x, null, null, null, null, { training: true }),
    /more than 1 value per channel/,
  );
  await assertRejects(
    () => batchNorm(x, v2, null, null, null, { training: true }),
    /weight \[2\] must have 3/,
  );
  await assertRejects(
    () => batchNorm(x, null, null, null, null, { training: false }),
    /eval mode needs/,
  );
  await assertRejects(
    () => batchNorm(fromArray([1]), null, null, null, null, { training: true }),
    /\[N, C\]/,
  );
  x.dispose();
  v2.dispose();
});
