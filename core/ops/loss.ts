/**
 * Losses, each the mean over the batch:
 *   mse:            (1/N)·Σ(p − t)²        (or 1/(2N) with `half`)
 *   bce:            −mean(t·log p + (1 − t)·log(1 − p))   (logs clamped at −100, as PyTorch)
 *   bceWithLogits:  the same on logits x, as max(x,0) − x·t + log(1 + e^−|x|)
 *   nll:            −mean(logp[i, tᵢ]) for class indices t (`nllLoss` of nll.ts)
 *   crossEntropy:   nll(logSoftmax(x), t)
 */
import type { Tensor } from "../tensor.ts";
import { binary } from "./elementwise.ts";
import { lit } from "./kernel.ts";
import { nllLoss } from "./nll.ts";
import { mean } from "./reduce.ts";
import { reshape } from "./shape.ts";
import { logSoftmax } from "./softmax.ts";

function sameSize(name: string, p: Tensor, t: Tensor): void {
  if (p.size !== t.size) throw new Error(`${name}: prediction [${p.shape}] vs target [${t.shape}]`);
}

/** Mean-square error; `half` gives the 1/(2N) form whose gradient is (p − t)/N. */
export function mse(pred: Tensor, target: Tensor, opts: { half?: boolean } = {}): Tensor {
  sameSize("mse", pred, target);
  const c = opts.half ? 0.5 : 1;
  const sq = binary(
    "squaredError",
    pred,
    target,
    `${lit(c)} * (a - b) * (a - b)`,
    `g * ${lit(2 * c)} * (a - b)`,
    `-g * ${lit(2 * c)} * (a - b)`,
  );
  return mean(sq);
}

/** Binary cross-entropy on probabilities p ∈ [0, 1]. */
export function bce(p: Tensor, target: Tensor): Tensor {
  sameSize("bce", p, target);
  const lp = "max(log(a), -100.0)", lq = "max(log(1.0 - a), -100.0)";
  return mean(binary(
    "bce",
    p,
    target,
    `-(b * ${lp} + (1.0 - b) * ${lq})`,
    "g * (a - b) / max((1.0 - a) * a, 1e-12)",
    `g * (${lq} - ${lp})`,
  ));
}

/** Binary cross-entropy on logits (stable for any x). */
export function bceWithLogits(x: Tensor, target: Tensor): Tensor {
  sameSize("bceWithLogits", x, target);
  return mean(binary(
    "bceWithLogits",
    x,
    target,
    "max(a, 0.0) - a * b + log(1.0 + exp(-abs(a)))",
    "g * (select(exp(a) / (1.0 + exp(a)), 1.0 / (1.0 + exp(-a)), a >= 0.0) - b)",
    "-g * a",
  ));
}

/**
 * Negative log-likelihood of log-probabilities `logp` [N, C] at the class indices
 * `target` [N] (stored as float32 integers), averaged over N: `nllLoss` of `nll.ts` (the
 * one NLL kernel) with its defaults.
 */
export function nll(logp: Tensor, target: Tensor): Tensor {
  if (logp.shape.length !== 2 || target.size !== logp.shape[0]) {
    throw new Error(`nll: log-probabilities [${logp.shape}] and targets [${target.shape}]`);
  }
  return nllLoss(logp, target.shape.length === 1 ? target : reshape(target, [target.size]));
}

/** Cross-entropy of logits [N, C] against class indices [N]. */
export function crossEntropy(logits: Tensor, target: Tensor): Tensor {
  return nll(logSoftmax(logits, -1), target);
}
