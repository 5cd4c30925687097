/**
 * Training statistics kept on the GPU: a running [Σ loss·n, Σ correct, Σ n] accumulator
 * updated by one kernel per step, so the loss and accuracy are read back only when
 * someone needs to see them.
 */
import { decls, main1d, run, SOFTWARE_LOOP_LIMIT } from "./kernel.ts";
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
  // Rows a dispatch: its loops run C iterations a row, within the software adapters'
  // loop limit (kernel.ts).
  const per = Math.max(1, Math.floor((SOFTWARE_LOOP_LIMIT - 1) / C));
  for (let r0 = 0; r0 < n; r0 += per) {
    const r1 = Math.min(n, r0 + per), first = r0 === 0;
    run(
      `${decls(["loss", "s", "y", "acc"])}
${main1d(1, 1)}
  var right = 0.0;
  for (var r = ${r0}u; r < ${r1}u; r++) {
    var best = 0u;
    for (var c = 1u; c < ${C}u; c++) {
      if (s[r * ${C}u + c] > s[r * ${C}u + best]) { best = c; }
    }
    if (best == u32(y[r])) { right = right + 1.0; }
  }
  ${first ? `acc[0] = acc[0] + loss[0] * ${n}.0;` : "_ = loss[0];"}
  acc[1] = acc[1] + right;
  ${first ? `acc[2] = acc[2] + ${n}.0;` : ""}
}`,
      [loss, scores, y, acc],
      [1],
    );
  }
}
