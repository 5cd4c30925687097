/**
 * Training statistics kept on the GPU: a running [Σ loss·n, Σ correct, Σ n] accumulator
 * updated by one kernel per step, so the loss and accuracy are read back only when
 * someone needs to see them.
 */
import { decls, main1d, run } from "./kernel.ts";
import { fromArray, type Tensor, zeros } from "../tensor.ts";

/** An accumulator [Σ loss·n, Σ correct, Σ n], zero or from `start` (kept; dispose it when done). */
export function statsAccumulator(start?: number[]): Tensor {
  return (start ? fromArray(new Float32Array(start), [3]) : zeros([3])).keep();
}

/**
 * Adds one batch to `acc`: its mean loss (a one-element tensor) times n, the number of rows
 * of `scores` [n, C] whose arg-max equals the label in `y` [n], and n.
 */
export function accumulateStats(acc: Tensor, loss: Tensor, scores: Tensor, y: Tensor): void {
  const [n, C] = scores.shape;
  run(
    `${decls(["loss", "s", "y", "acc"])}
${main1d(1, 1)}
  var right = 0.0;
  for (var r = 0u; r < ${n}u; r++) {
    var best = 0u;
    for (var c = 1u; c < ${C}u; c++) {
      if (s[r * ${C}u + c] > s[r * ${C}u + best]) { best = c; }
    }
    if (best == u32(y[r])) { right = right + 1.0; }
  }
  acc[0] = acc[0] + loss[0] * ${n}.0;
  acc[1] = acc[1] + right;
  acc[2] = acc[2] + ${n}.0;
}`,
    [loss, scores, y, acc],
    [1],
  );
}
