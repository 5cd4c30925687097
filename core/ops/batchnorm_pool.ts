/**
 * The kernels of batch normalisation followed by a non-overlapping average pool (ReLU
 * between them optional): `batchNorm` in `batchnorm.ts` runs them when given `avgPool`, for
 * the Sequential fusion BatchNorm2d → ReLU → AvgPool2d (kernel = stride, no padding, floor
 * mode; the custom scene CNN's blocks). The forward writes only the pooled output; the
 * backward reads the pooled gradient where its sums and dx read the normalised output's
 * gradient (go / (KH·KW) inside a window, 0 in the rows and columns no window covers), and
 * recomputes the ReLU mask from x. The full-size normalised output and its gradient are
 * never stored: on the scene CNN's first block ([16, 64, 146, 146]) that is four passes
 * over 87 MB a step fewer.
 *
 * Each value is computed with the same operations in the same order as the unfused ops
 * (`normalizeKernel`, the pool's window-reduce kernel, `sumsKernel`, `dxKernel`), so the
 * results are the same bits.
 *
 * @module
 */
import type { Tensor } from "../tensor.ts";
import { runReading, type SharedReads } from "./texture_read.ts";
import {
  acc,
  channelGrid,
  decl,
  type Kind,
  layout,
  perElement,
  plan,
  reduceWidth,
  sumsMain,
  vdecl,
  vectorOf,
} from "./batchnorm_wgsl.ts";
import { lit } from "./kernel.ts";

/** A non-overlapping pool window over [N, C, H, W]: KH × KW, stride the same. */
export interface AvgPoolWindow {
  /** Window rows (and the stride down). */
  KH: number;
  /** Window columns (and the stride across). */
  KW: number;
}

/** The pooled output's shape [N, C, ⌊H/KH⌋, ⌊W/KW⌋]; throws unless x is 4-D and fits one window. */
export function pooledShape(x: Tensor, w: AvgPoolWindow): number[] {
  const [N, C, H, W] = x.shape;
  if (x.shape.length !== 4) {
    throw new Error(
      `batchNorm: a fused average pool needs an [N, C, H, W] input, got [${x.shape}]`,
    );
  }
  const ok = (k: number, n: number) => Number.isInteger(k) && k >= 1 && k <= n;
  if (!ok(w.KH, H) || !ok(w.KW, W)) {
    throw new Error(`batchNorm: pool window ${w.KH}×${w.KW} does not fit input [${x.shape}]`);
  }
  return [N, C, Math.floor(H / w.KH), Math.floor(W / w.KW)];
}

/**
 * WGSL `fn gq(e: u32) -> f32`: the gradient of element e of the normalised output, from the
 * pooled gradient `gp`: gp / (KH·KW) of its window, 0 outside every window.
 */
function pooledGradFn(x: Tensor, w: AvgPoolWindow): string {
  const [, , H, W] = x.shape, OH = Math.floor(H / w.KH), OW = Math.floor(W / w.KW);
  return `fn gq(e: u32) -> f32 {
  let pos = e % ${H * W}u;
  let ph = (pos / ${W}u) / ${w.KH}u;
  let pw = (pos % ${W}u) / ${w.KW}u;
  if (ph >= ${OH}u || pw >= ${OW}u) { return 0.0; }
  return gp[(e / ${H * W}u) * ${OH * OW}u + ph * ${OW}u + pw] / (${w.KH}.0 * ${w.KW}.0);
}`;
}

/**
 * WGSL `fn gq4(f: u32) -> vec4<f32>`: `gq` of elements 4f … 4f + 3 (planes a multiple of 4
 * long, so one plane), their row and column found once.
 */
function pooledGrad4Fn(x: Tensor, w: AvgPoolWindow): string {
  const [, , H, W] = x.shape, OH = Math.floor(H / w.KH), OW = Math.floor(W / w.KW);
  if (W < 4) {
    return `fn gq4(f: u32) -> vec4<f32> {
  return vec4<f32>(gq(f * 4u), gq(f * 4u + 1u), gq(f * 4u + 2u), gq(f * 4u + 3u));
}`;
  }
  // Unrolled, with selects and clamped loads rather than branches and a dynamically indexed
  // vector (which software adapters keep in memory).
  const comp = [0, 1, 2, 3].map((q) =>
    `  let c${q} = cb + ${q}u;
  let r${q} = c${q} >= ${W}u;
  let ph${q} = select(rowA, rowB, r${q});
  let pw${q} = select(c${q}, c${q} - ${W}u, r${q}) / ${w.KW}u;
  let g${q} = select(0.0, gp[gb + min(ph${q}, ${OH - 1}u) * ${OW}u + min(pw${q}, ${
      OW - 1
    }u)], ph${q} < ${OH}u && pw${q} < ${OW}u);`
  ).join("\n");
  return `fn gq4(f: u32) -> vec4<f32> {
  let e = f * 4u;
  let pos = e % ${H * W}u;
  let gb = (e / ${H * W}u) * ${OH * OW}u;
  let h0 = pos / ${W}u;
  let cb = pos % ${W}u;
  let rowA = h0 / ${w.KH}u;
  let rowB = (h0 + 1u) / ${w.KH}u;
${comp}
  return vec4<f32>(g0, g1, g2, g3) / (${w.KH}.0 * ${w.KW}.0);
}`;
}

/** WGSL of the gradient at index `k` of a V-wide view. */
function gradAt(k: string, V: number): string {
  return V === 1 ? `gq(${k})` : `gq4(${k})`;
}

/**
 * The pooled output y [N, C, OH, OW] = mean over each window of the normalised x (then ReLU
 * per element, with `relu`); optionally bumps the batch counter.
 */
export function pooledNormalizeKernel(
  x: Tensor,
  stats: Tensor,
  w: Tensor | null,
  b: Tensor | null,
  y: Tensor,
  nbt: Tensor | null,
  relu: boolean,
  win: AvgPoolWindow,
  shared?: SharedReads,
): void {
  const [, C, H, W] = x.shape, [, , OH, OW] = y.shape;
  const names: [string, boolean][] = [["x", false], ["stats", false]];
  const binds = [x, stats];
  if (w) names.push(["w", false]), binds.push(w);
  if (b) names.push(["b", false]), binds.push(b);
  names.push(["y", true]), binds.push(y);
  if (nbt) names.push(["nbt", true]), binds.push(nbt);
  // The channel's values read once an invocation of a run of outputs within one plane (the
  // same values; storage loads the compiler would not move past the stores).
  const lets = [
    "    let mean = stats[c];",
    `    let sc = stats[${C}u + c]${w ? " * w[c]" : ""};`,
    b ? "    let bc = b[c];" : "",
  ].filter(Boolean).join("\n");
  const run = perElement(y.size, C, OH * OW, {
    V: 1,
    chanVec: false,
    channel: `(i / ${OH * OW}u) % ${C}u`,
    C,
  }, lets);
  const code = `${names.map(([n, wr], k) => decl(k, n, wr)).join("\n")}
${run.header}
    ${nbt ? "if (i == 0u) { nbt[0] = nbt[0] + 1.0; }" : ""}
    let pw = i % ${OW}u;
    let ph = (i / ${OW}u) % ${OH}u;
    let plane = i / ${OH * OW}u;
    let xb = plane * ${H * W}u + ph * ${win.KH * W}u + pw * ${win.KW}u;
    var s = 0.0;
    for (var ky = 0u; ky < ${win.KH}u; ky++) {
      for (var kx = 0u; kx < ${win.KW}u; kx++) {
        let yv = (x[xb + ${W}u * ky + kx] - mean) * sc${b ? " + bc" : ""};
        s = s + ${relu ? "max(yv, 0.0)" : "yv"};
      }
    }
    y[i] = s / (${win.KH}.0 * ${win.KW}.0);
  }
}`;
  const reads = names.map(([n]) => (n === "x" ? n : null));
  runReading(code, binds, reads, run.workgroups, { scalars: true, shared });
}

/**
 * Per-channel sums for backward from the pooled gradient `gp`: db = Σ g, dw = Σ g·x̂ over
 * the elements of x (g masked by the recomputed pre-ReLU value > 0 with `relu`).
 */
export function pooledSumsKernel(
  gp: Tensor,
  x: Tensor,
  stats: Tensor,
  w: Tensor | null,
  b: Tensor | null,
  dw: Tensor,
  db: Tensor,
  relu: boolean,
  win: AvgPoolWindow,
  shared?: SharedReads,
): void {
  const { C, S, M } = layout(x);
  const p = plan(S, M);
  const V = reduceWidth(S, p), a = acc(V);
  const names: [string, boolean, boolean][] = [
    ["gp", false, false],
    ["x", false, V === 4],
    ["stats", false, false],
    ["dw", true, false],
    ["db", true, false],
  ];
  const binds = [gp, x, stats, dw, db];
  const mw = relu && w, mb = relu && b;
  if (mw) names.push(["w", false, false]), binds.push(w);
  if (mb) names.push(["b", false, false]), binds.push(b);
  // The channel's scale and shift read once, before the loop (the same values).
  const pre = relu
    ? `\n  let sc = inv${mw ? " * w[c]" : ""};${mb ? "\n  let bc = b[c];" : ""}`
    : "";
  const gk = relu
    ? `select(${a.zero}, ${gradAt("k", V)}, (xv - mean) * sc${mb ? " + bc" : ""} > ${a.zero})`
    : gradAt("k", V);
  const body = `let xv = x[k]; let gv = ${gk}; s = s + gv; sx = sx + gv * (xv - mean) * inv;`;
  const code = `${names.map(([n, wr, vec], k) => decl(k, n, wr, vec)).join("\n")}
${pooledGradFn(x, win)}
${pooledGrad4Fn(x, win)}
${sumsMain(C, S, M, p, V, body, pre)}`;
  const reads = names.map(([n]) => (n === "gp" || n === "x" ? n : null));
  runReading(code, binds, reads, channelGrid(C, p), { scalars: true, shared });
}

/** dx from the pooled gradient `gp` (and, in training, the per-channel sums). */
export function pooledDxKernel(
  gp: Tensor,
  x: Tensor,
  stats: Tensor,
  w: Tensor | null,
  b: Tensor | null,
  sums: { dw: Tensor; db: Tensor } | null,
  dx: Tensor,
  relu: boolean,
  win: AvgPoolWindow,
  shared?: SharedReads,
): void {
  const { C, S, M } = layout(x);
  const v = vectorOf(C, S, x.size);
  const names: [string, Kind][] = [["gp", "chan"], ["stats", "chan"], ["x", "elem"]];
  const binds = [gp, stats, x];
  if (w) names.push(["w", "chan"]), binds.push(w);
  const mb = relu && b;
  if (mb) names.push(["b", "chan"]), binds.push(b);
  if (sums) names.push(["dw", "chan"], ["db", "chan"]), binds.push(sums.dw, sums.db);
  names.push(["dx", "out"]), binds.push(dx);
  const zero = v.V === 4 ? "vec4<f32>(0.0)" : "0.0";
  const g = gradAt("i", v.V);
  // The channel's values read once an invocation (the same values as `dxKernel`'s loads).
  const gm = relu ? `select(${zero}, ${g}, (xv - mean) * sc${mb ? " + bc" : ""} > ${zero})` : g;
  const body = sums
    ? `let xh = (xv - mean) * inv;
    dx[i] = sc * (gm - dbc * ${lit(1 / M)} - xh * dwc * ${lit(1 / M)});`
    : `dx[i] = gm * sc;`;
  const hoisted = [
    "  let mean = stats[c];",
    `  let inv = stats[${C}u + c];`,
    `  let sc = inv${w ? " * w[c]" : ""};`,
    mb ? "  let bc = b[c];" : "",
    sums ? "  let dbc = db[c];\n  let dwc = dw[c];" : "",
  ].filter(Boolean).join("\n");
  const run = perElement(x.size / v.V, C, S, v, hoisted);
  // gp is a scalar array whatever the width (its loads are gathers).
  const code = `${
    names.map(([n, k], j) => (n === "gp" ? decl(j, n, false) : vdecl(j, n, k, v)))
      .join("\n")
  }
${pooledGradFn(x, win)}
${pooledGrad4Fn(x, win)}
${run.header}
    let xv = x[i];
    let gm = ${gm};
    ${body}
  }
}`;
  const reads = names.map(([n, k]) => (k === "elem" || n === "gp" ? n : null));
  runReading(code, binds, reads, run.workgroups, { scalars: true, shared });
}
