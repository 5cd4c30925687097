/**
 * Batch normalisation over the channel axis 1 of [N, C] or [N, C, d1, …] (PyTorch's
 * BatchNorm1d / BatchNorm2d and ONNX's BatchNormalization), with its gradient.
 *
 * Training mode (batch statistics over the M = N·d1·… values of each channel):
 *   μ = mean(x), σ² = mean((x − μ)²)            (biased, used to normalise)
 *   y = (x − μ) / √(σ² + ε) · γ + β
 *   running_mean ← (1 − m)·running_mean + m·μ
 *   running_var  ← (1 − m)·running_var  + m·σ²·M/(M − 1)   (unbiased, as PyTorch;
 *                                                             `unbiasedRunningVar: false`
 *                                                             gives ONNX's biased form)
 *   with m the momentum (PyTorch's convention: 0.1 by default; null: cumulative average
 *   1/num_batches_tracked). The running statistics and the batch counter are updated on
 *   the GPU, in place: nothing is read back.
 * Eval mode normalises with the running statistics.
 *
 * Backward (training), with x̂ = (x − μ)/√(σ² + ε):
 *   dβ = Σ g,  dγ = Σ g·x̂,  dx = γ/√(σ² + ε) · (g − dβ/M − x̂·dγ/M)
 * Backward (eval): dx = g·γ/√(running_var + ε); dγ, dβ as above.
 *
 * Forward is two dispatches in training (per-channel statistics, then the normalisation)
 * and one in eval; backward is two (per-channel sums, then dx). Large inputs are read
 * through textures where the adapter's storage loads are slow (`runReading`). With
 * `avgPool` the normalisation writes only the means of non-overlapping windows, and the
 * backward reads their gradient (`batchnorm_pool.ts`).
 */
import { isGradEnabled, record } from "../tape.ts";
import { empty, type Tensor } from "../tensor.ts";
import { runReading, SharedReads } from "./texture_read.ts";
import {
  acc,
  channelGrid,
  channelHeader,
  channelLoop,
  checkVec,
  decl,
  type Kind,
  layout,
  perElement,
  plan,
  reduceTo,
  reduceWidth,
  sumsMain,
  vdecl,
  vectorOf,
} from "./batchnorm_wgsl.ts";
import { fitsBinding, grid, lit, main1d, mainEach, perInvocation, run } from "./kernel.ts";
import {
  type AvgPoolWindow,
  pooledDxKernel,
  pooledNormalizeKernel,
  pooledShape,
  pooledSumsKernel,
} from "./batchnorm_pool.ts";

/** Options of `batchNorm`. */
export interface BatchNormOpOptions {
  /** Batch statistics (and running-statistics update) when true, running statistics when false. */
  training: boolean;
  /**
   * Weight of the batch statistic in the running update, PyTorch's convention (default 0.1;
   * ONNX's `momentum` attribute is 1 − this). null: cumulative average, 1/num_batches_tracked.
   */
  momentum?: number | null;
  /** Added to the variance before the square root (default 1e-5). */
  eps?: number;
  /** Update running_var with the unbiased batch variance (default true, as PyTorch; ONNX: false). */
  unbiasedRunningVar?: boolean;
  /** A one-element counter incremented on the GPU per training step (PyTorch's num_batches_tracked). */
  numBatchesTracked?: Tensor | null;
  /** Apply ReLU to the result in the same kernel (default false). */
  relu?: boolean;
  /**
   * Then average over non-overlapping KH × KW windows (stride the same, no padding, floor
   * mode) of an [N, C, H, W] input, in the same kernels: the result is [N, C, ⌊H/KH⌋,
   * ⌊W/KW⌋] (`batchnorm_pool.ts`).
   */
  avgPool?: AvgPoolWindow | null;
}

/**
 * The batch statistics kernel: stats = [μ (C), 1/√(σ² + ε) (C)], and the running update.
 */
function statsKernel(
  x: Tensor,
  stats: Tensor,
  rm: Tensor | null,
  rv: Tensor | null,
  nbt: Tensor | null,
  momentum: number | null,
  eps: number,
  unbiased: boolean,
  shared?: SharedReads,
): void {
  const { C, S, M } = layout(x);
  const p = plan(S, M);
  const running = !!(rm && rv);
  const names: [string, boolean][] = [["x", false], ["stats", true]];
  if (running) names.push(["rm", true], ["rv", true]);
  const useNbt = running && momentum === null;
  if (useNbt) names.push(["nbt", false]);
  const mom = momentum === null ? "1.0 / (nbt[0] + 1.0)" : lit(momentum);
  const V = reduceWidth(S, p), a = acc(V);
  const code = `${names.map(([n, w], k) => decl(k, n, w, V === 4 && n === "x")).join("\n")}
${channelHeader(C, p, ["part"])}
  var s = ${a.zero};
  ${channelLoop(C, S, M, p.T, "s = s + x[k];", V)}
${reduceTo(p, [["part", a.fold("s"), "total"]])}
  let mean = total / ${lit(M)};
  var q = ${a.zero};
  ${channelLoop(C, S, M, p.T, "let d = x[k] - mean; q = q + d * d;", V)}
${reduceTo(p, [["part", a.fold("q"), "sq"]])}
  if (l == 0u) {
    let v = sq / ${lit(M)};
    stats[c] = mean;
    stats[${C}u + c] = inverseSqrt(v + ${lit(eps)});
    ${
    running
      ? `let m = ${mom};
    rm[c] = (1.0 - m) * rm[c] + m * mean;
    rv[c] = (1.0 - m) * rv[c] + m * v * ${lit(unbiased && M > 1 ? M / (M - 1) : 1)};`
      : ""
  }
  }
}`;
  const binds = [x, stats];
  if (running) binds.push(rm!, rv!);
  if (useNbt) binds.push(nbt!);
  runReading(code, binds, ["x"], channelGrid(C, p), { shared });
}

/** y = (x − stats.μ)·stats.invstd·γ + β; optionally bumps the batch counter. */
function normalizeKernel(
  x: Tensor,
  stats: Tensor,
  w: Tensor | null,
  b: Tensor | null,
  y: Tensor,
  nbt: Tensor | null,
  relu = false,
  shared?: SharedReads,
): void {
  const { C, S } = layout(x);
  const v = vectorOf(C, S, x.size);
  const zero = v.V === 4 ? "vec4<f32>(0.0)" : "0.0";
  const names: [string, Kind][] = [["x", "elem"], ["stats", "chan"]];
  const binds = [x, stats];
  if (w) names.push(["w", "chan"]), binds.push(w);
  if (b) names.push(["b", "chan"]), binds.push(b);
  names.push(["y", "out"]), binds.push(y);
  if (nbt) names.push(["nbt", "count"]), binds.push(nbt);
  const lets = [
    "    let mean = stats[c];",
    `    let sc = stats[${v.C}u + c]${w ? " * w[c]" : ""};`,
    b ? "    let bc = b[c];" : "",
  ].filter(Boolean).join("\n");
  const run = perElement(x.size / v.V, C, S, v, lets);
  const code = `${names.map(([n, k], j) => vdecl(j, n, k, v)).join("\n")}
${run.header}
    ${nbt ? "if (i == 0u) { nbt[0] = nbt[0] + 1.0; }" : ""}
    let yv = (x[i] - mean) * sc${b ? " + bc" : ""};
    y[i] = ${relu ? `max(yv, ${zero})` : "yv"};
  }
}`;
  const reads = names.map(([n, k]) => (k === "elem" ? n : null));
  runReading(code, binds, reads, run.workgroups, { shared });
}

/** stats = [running_mean, 1/√(running_var + ε)] (eval mode, when a backward needs them). */
function runningStatsKernel(rm: Tensor, rv: Tensor, stats: Tensor, eps: number): void {
  const C = rm.size;
  const code = `${decl(0, "rm", false)}
${decl(1, "rv", false)}
${decl(2, "stats", true)}
${main1d(C)}
  stats[i] = rm[i];
  stats[${C}u + i] = inverseSqrt(rv[i] + ${lit(eps)});
}`;
  run(code, [rm, rv, stats], grid(C));
}

/** Eval forward straight from the running statistics (no autograd needed). */
function evalKernel(
  x: Tensor,
  rm: Tensor,
  rv: Tensor,
  w: Tensor | null,
  b: Tensor | null,
  y: Tensor,
  eps: number,
  relu = false,
): void {
  const { C, S } = layout(x), per = perInvocation();
  const names: [string, boolean][] = [["x", false], ["rm", false], ["rv", false]];
  const binds = [x, rm, rv];
  if (w) names.push(["w", false]), binds.push(w);
  if (b) names.push(["b", false]), binds.push(b);
  names.push(["y", true]), binds.push(y);
  const code = `${names.map(([n, wr], k) => decl(k, n, wr)).join("\n")}
${mainEach(x.size, per)}
    let c = ${S === 1 ? `i % ${C}u` : `(i / ${S}u) % ${C}u`};
    let yv = (x[i] - rm[c]) * (inverseSqrt(rv[c] + ${lit(eps)})${w ? " * w[c]" : ""})${
    b ? " + b[c]" : ""
  };
    y[i] = ${relu ? "max(yv, 0.0)" : "yv"};
  }
}`;
  run(code, binds, grid(Math.ceil(x.size / per)));
}

/**
 * Per-channel sums for backward: db = Σ g, dw = Σ g·x̂ (g masked by `y` > 0 when the
 * forward fused a ReLU: `y` is its output).
 */
function sumsKernel(
  g: Tensor,
  x: Tensor,
  stats: Tensor,
  dw: Tensor,
  db: Tensor,
  y: Tensor | null,
  shared?: SharedReads,
): void {
  const { C, S, M } = layout(x);
  const p = plan(S, M);
  const V = reduceWidth(S, p), a = acc(V);
  const gk = y ? `select(${a.zero}, g[k], y[k] > ${a.zero})` : "g[k]";
  const code = `${decl(0, "g", false, V === 4)}
${decl(1, "x", false, V === 4)}
${decl(2, "stats", false)}
${decl(3, "dw", true)}
${decl(4, "db", true)}
${y ? decl(5, "y", false, V === 4) : ""}
${sumsMain(C, S, M, p, V, `let gv = ${gk}; s = s + gv; sx = sx + gv * (x[k] - mean) * inv;`)}`;
  const binds = y ? [g, x, stats, dw, db, y] : [g, x, stats, dw, db];
  runReading(code, binds, ["g", "x", null, null, null, "y"], channelGrid(C, p), { shared });
}

/** dx from g (and, in training, the per-channel sums). */
function dxKernel(
  g: Tensor,
  x: Tensor,
  stats: Tensor,
  w: Tensor | null,
  sums: { dw: Tensor; db: Tensor } | null,
  dx: Tensor,
  y: Tensor | null,
  shared?: SharedReads,
): void {
  const { C, S, M } = layout(x);
  const v = vectorOf(C, S, x.size);
  const names: [string, Kind][] = [["g", "elem"], ["stats", "chan"]];
  const binds = [g, stats];
  if (y) names.push(["y", "elem"]), binds.push(y);
  const zero = v.V === 4 ? "vec4<f32>(0.0)" : "0.0";
  const gi = y ? "gm" : "g[i]";
  if (w) names.push(["w", "chan"]), binds.push(w);
  if (sums) {
    names.push(["x", "elem"], ["dw", "chan"], ["db", "chan"]);
    binds.push(x, sums.dw, sums.db);
  }
  names.push(["dx", "out"]), binds.push(dx);
  const lets = [
    `    let inv = stats[${v.C}u + c];`,
    `    let sc = inv${w ? " * w[c]" : ""};`,
    sums ? "    let mean = stats[c];\n    let dbc = db[c];\n    let dwc = dw[c];" : "",
  ].filter(Boolean).join("\n");
  const body = sums
    ? `let xh = (x[i] - mean) * inv;
  dx[i] = sc * (${gi} - dbc * ${lit(1 / M)} - xh * dwc * ${lit(1 / M)});`
    : `dx[i] = ${gi} * sc;`;
  const run = perElement(x.size / v.V, C, S, v, lets);
  const code = `${names.map(([n, k], j) => vdecl(j, n, k, v)).join("\n")}
${run.header}
    ${y ? `let gm = select(${zero}, g[i], y[i] > ${zero});` : ""}
    ${body}
  }
}`;
  const reads = names.map(([n, k]) => (k === "elem" ? n : null));
  runReading(code, binds, reads, run.workgroups, { shared });
}

/**
 * Batch normalisation of `x` [N, C, …] over every axis but 1. `weight` (γ) and `bias` (β)
 * are [C] or null (1 and 0). In training the batch statistics normalise and, when given,
 * `runningMean`/`runningVar` [C] (and `numBatchesTracked`) are updated in place on the
 * GPU; in eval the running statistics normalise (they are required).
 *
 * @example
 * const y = batchNorm(x, gamma, beta, runMean, runVar, { training: true });
 */
export function batchNorm(
  x: Tensor,
  weight: Tensor | null,
  bias: Tensor | null,
  runningMean: Tensor | null,
  runningVar: Tensor | null,
  opts: BatchNormOpOptions,
): Tensor {
  const { C, M } = layout(x);
  for (
    const [n, t] of [["weight", weight], ["bias", bias], ["running_mean", runningMean], [
      "running_var",
      runningVar,
    ]] as const
  ) checkVec(n, t, C);
  if (!runningMean !== !runningVar) {
    throw new Error("batchNorm: give both running_mean and running_var, or neither");
  }
  fitsBinding("batchNorm", x.bytes);
  const eps = opts.eps ?? 1e-5;
  const momentum = opts.momentum === undefined ? 0.1 : opts.momentum;
  const nbt = opts.numBatchesTracked ?? null;
  const relu = !!opts.relu, pool = opts.avgPool ?? null;
  const inputs = [x, weight, bias].filter((t): t is Tensor => t !== null);
  const wantGrad = isGradEnabled() && inputs.some((t) => t.requiresGrad);
  const y = empty(pool ? pooledShape(x, pool) : x.shape);
  if (x.size === 0) return y;
  // The normalisation: full size, or straight into the pooled output.
  const normalize = (st: Tensor, count: Tensor | null, shared?: SharedReads) =>
    pool
      ? pooledNormalizeKernel(x, st, weight, bias, y, count, relu, pool, shared)
      : normalizeKernel(x, st, weight, bias, y, count, relu, shared);
  let stats: Tensor | null = null;
  if (opts.training) {
    if (M <= 1) {
      throw new Error(
        `batchNorm: expected more than 1 value per channel when training, got input [${x.shape}]`,
      );
    }
    if (momentum === null && runningMean && !nbt) {
      throw new Error("batchNorm: momentum null (cumulative average) needs numBatchesTracked");
    }
    stats = empty([2, C]);
    // x is copied for the texture reads once, for both kernels.
    const shared = new SharedReads();
    statsKernel(
      x,
      stats,
      runningMean,
      runningVar,
      nbt,
      momentum,
      eps,
      opts.unbiasedRunningVar ?? true,
      shared,
    );
    normalize(stats, runningMean ? nbt : null, shared);
    shared.release();
  } else {
    if (!runningMean || !runningVar) {
      throw new Error("batchNorm: eval mode needs running_mean and running_var");
    }
    if (!wantGrad && !pool) {
      evalKernel(x, runningMean, runningVar, weight, bias, y, eps, relu);
      return y;
    }
    stats = empty([2, C]);
    runningStatsKernel(runningMean, runningVar, stats, eps);
    normalize(stats, null);
    if (!wantGrad) {
      stats.dispose();
      return y;
    }
  }
  const training = opts.training;
  const name = `batchNorm${relu ? "_relu" : ""}${pool ? "_avgPool" : ""}`;
  const out = record(name, y, inputs, (g, saved) => {
    const sx = saved[0];
    let k = 1;
    const sw = weight ? saved[k++] : null;
    const sb = bias ? saved[k++] : null;
    const st = saved[k++];
    const sy = relu && !pool ? saved[k] : null;
    const needSums = training || !!(weight?.requiresGrad || bias?.requiresGrad);
    let sums: { dw: Tensor; db: Tensor } | null = null;
    const shared = new SharedReads(); // g, x and y copied once for both kernels
    if (needSums) {
      sums = { dw: empty([C]), db: empty([C]) };
      if (pool) pooledSumsKernel(g, sx, st, sw, sb, sums.dw, sums.db, relu, pool, shared);
      else sumsKernel(g, sx, st, sums.dw, sums.db, sy, shared);
    }
    let dx: Tensor | null = null;
    if (x.requiresGrad) {
      dx = empty(x.shape);
      const s = training ? sums : null;
      if (pool) pooledDxKernel(g, sx, st, sw, sb, s, dx, relu, pool, shared);
      else dxKernel(g, sx, st, sw, s, dx, sy, shared);
    }
    shared.release();
    const grads: (Tensor | null)[] = [dx];
    if (weight) grads.push(weight.requiresGrad && sums ? sums.dw : null);
    if (bias) grads.push(bias.requiresGrad && sums ? sums.db : null);
    return grads;
  }, relu && !pool ? [stats, y] : [stats]);
  stats.dispose();
  return out;
}
