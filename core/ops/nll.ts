/**
 * ONNX's NegativeLogLikelihoodLoss (PyTorch's `nll_loss`) in full: input [N, C] or
 * [N, C, d1, …, dk], class-index target [N] or [N, d1, …, dk] (float32 integers, possibly
 * negative), optional class weights w [C], `ignoreIndex`, reductions none / sum / mean:
 *   l[n, d] = −input[n, t[n,d], d] · w[t[n,d]]   (0 where t[n,d] = ignoreIndex)
 *   none: l;  sum: Σ l;  mean: Σ l / Σ w[t[n,d]] over the targets not ignored
 * Gradient (input only; targets and weights are constants):
 *   dx[n, c, d] = −w[c] · G[n, d] where c = t[n, d] (not ignored), else 0,
 *   G = g (none), g (sum), g / Σ w (mean).
 * A target outside [0, C) that is not `ignoreIndex` contributes nothing (ONNX leaves it
 * undefined; nothing is read out of bounds).
 * Forward is one dispatch (a one-workgroup reduction for sum and mean), backward one.
 * When `input` is the recorded output of `logSoftmax(x, 1)`, the loss is differentiated
 * with respect to x directly, in that one backward kernel:
 *   dx[n, c, d] = w[t]·G[n, d]·(exp(input[n, c, d]) − [c = t])   (0 where t is ignored)
 * and log-softmax's own backward runs only for its other consumers, if any.
 */
import { record } from "../tape.ts";
import { logSoftmaxSource } from "./softmax.ts";
import { empty, type Tensor } from "../tensor.ts";
import { decls, fitsBinding, grid, main1d, run, workgroupSum } from "./kernel.ts";

/** Options of `nllLoss`. */
export interface NllLossOptions {
  /** Class weights [C] (default all 1). */
  weight?: Tensor | null;
  /** A target value that contributes nothing (default none). */
  ignoreIndex?: number;
  /** "mean" (default, weighted), "sum" or "none" (per-element losses [N, d1, …]). */
  reduction?: "none" | "sum" | "mean";
}

const RED_WG = 256;

/**
 * Negative log-likelihood of log-probabilities `input` [N, C, d…] at class indices
 * `target` [N, d…].
 *
 * @example
 * const loss = nllLoss(logSoftmax(x, 1), t, { reduction: "sum", ignoreIndex: -1 });
 */
export function nllLoss(input: Tensor, target: Tensor, opts: NllLossOptions = {}): Tensor {
  const reduction = opts.reduction ?? "mean";
  if (!["none", "sum", "mean"].includes(reduction)) {
    throw new Error(`nllLoss: reduction must be none, sum or mean, got "${reduction}"`);
  }
  if (input.shape.length < 2) throw new Error(`nllLoss: input [${input.shape}] must be [N, C, …]`);
  const [N, C] = input.shape;
  const dShape = input.shape.slice(2);
  const D = dShape.reduce((p, d) => p * d, 1);
  const tShape = [N, ...dShape];
  if (target.shape.length !== tShape.length || target.shape.some((d, k) => d !== tShape[k])) {
    throw new Error(
      `nllLoss: target [${target.shape}] must be [${tShape}] for input [${input.shape}]`,
    );
  }
  const weight = opts.weight ?? null;
  if (weight && weight.size !== C) {
    throw new Error(`nllLoss: weight [${weight.shape}] must have ${C} values`);
  }
  fitsBinding("nllLoss", input.bytes);
  const ii = opts.ignoreIndex;
  const valid = `t >= 0 && t < ${C}${ii === undefined ? "" : ` && t != ${ii | 0}`}`;
  const wOf = (t: string) => (weight ? `w[u32(${t})]` : "1.0");
  const ND = N * D;
  const names = weight ? ["x", "tg", "w"] : ["x", "tg"];
  const ins = weight ? [input, target, weight] : [input, target];
  // Per-element loss and weight at flat target index r.
  const elem = `fn elem(r: u32) -> vec2f {
  let t = i32(round(tg[r]));
  if (!(${valid})) { return vec2f(0.0, 0.0); }
  let wt = ${wOf("t")};
  let n = r / ${D}u;
  let d = r % ${D}u;
  return vec2f(-x[n * ${C * D}u + u32(t) * ${D}u + d] * wt, wt);
}`;
  let out: Tensor;
  let wsum: Tensor | null = null;
  if (reduction === "none") {
    out = empty(tShape);
    if (ND > 0) {
      run(
        `${decls([...names, "out"])}
${elem}
${main1d(ND)}
  out[i] = elem(i).x;
}`,
        [...ins, out],
        grid(ND),
      );
    }
  } else {
    out = empty([]);
    wsum = empty([1]);
    run(
      `${decls([...names, "out", "ws"], 2)}
${elem}
var<workgroup> pl: array<f32, ${RED_WG}>;
var<workgroup> pw: array<f32, ${RED_WG}>;
@compute @workgroup_size(${RED_WG})
fn main(@builtin(local_invocation_index) l: u32) {
  var s = vec2f(0.0, 0.0);
  for (var r = l; r < ${ND}u; r = r + ${RED_WG}u) { s = s + elem(r); }
${workgroupSum([["pl", "s.x"], ["pw", "s.y"]], RED_WG)}
  if (l == 0u) {
    out[0] = ${reduction === "mean" ? "pl[0] / pw[0]" : "pl[0]"};
    ws[0] = pw[0];
  }
}`,
      [...ins, out, wsum],
      [1],
    );
  }
  const extra = [target, ...(weight ? [weight] : []), ...(wsum ? [wsum] : [])];
  // Log-softmax over the class axis feeding this loss: one kernel for both gradients.
  const src = logSoftmaxSource(input);
  const fused = src && src.axis === 1 && src.x.requiresGrad ? src : undefined;
  // logp stays an input (with no gradient) so its node is still reached and released.
  const res = record(
    fused ? "nllLoss_logSoftmax" : "nllLoss",
    out,
    fused ? [fused.x, input] : [input],
    (g, saved) => {
      const k = fused ? 2 : 1;
      const st = saved[k];
      const sw = weight ? saved[k + 1] : null;
      const sws = wsum ? saved[k + extra.length - 1] : null;
      const sp = fused ? saved[1] : null;
      const dx = empty(input.shape);
      const G = reduction === "none" ? "g[r]" : reduction === "sum" ? "g[0]" : "g[0] / ws[0]";
      const bnames = [
        "g",
        "tg",
        ...(sw ? ["w"] : []),
        ...(reduction === "mean" ? ["ws"] : []),
        ...(sp ? ["lp"] : []),
      ];
      const binds = [
        g,
        st,
        ...(sw ? [sw] : []),
        ...(reduction === "mean" ? [sws!] : []),
        ...(sp ? [sp] : []),
      ];
      const wt = weight ? "w[u32(t)]" : "1.0";
      const body = sp
        ? `if (${valid}) { v = ${wt} * ${G} * (exp(lp[i]) - select(0.0, 1.0, u32(t) == c)); }`
        : `if (${valid} && u32(t) == c) { v = -${weight ? "w[c]" : "1.0"} * ${G}; }`;
      run(
        `${decls([...bnames, "dx"])}
${main1d(input.size)}
  let n = i / ${C * D}u;
  let c = (i / ${D}u) % ${C}u;
  let r = n * ${D}u + i % ${D}u;
  let t = i32(round(tg[r]));
  var v = 0.0;
  ${body}
  dx[i] = v;
}`,
        [...binds, dx],
        grid(input.size),
      );
      return fused ? [dx, null] : [dx];
    },
    extra,
  );
  wsum?.dispose();
  return res;
}
