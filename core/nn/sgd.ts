/** Plain stochastic gradient descent: w ← w − η·∇w, one fused in-place kernel per parameter. */
import { noGrad } from "../autograd.ts";
import { decls, grid, lit, main1d, run } from "../ops/kernel.ts";
import { gpu } from "../gpu.ts";
import type { Tensor } from "../tensor.ts";

/**
 * Plain SGD over a list of parameters. Parameters without a gradient (frozen, or unused
 * this step) are skipped.
 *
 * @example
 * const opt = new SGD(model.parameters(), 0.01);
 * backward(loss); opt.step(); opt.zeroGrad();
 */
export class SGD {
  constructor(readonly params: Tensor[], public lr: number) {}

  /** Applies one update to every parameter that has a gradient. */
  step(): void {
    noGrad(() => {
      for (const p of this.params) {
        if (!p.requiresGrad || !p.grad) continue;
        for (const w of gpu().windows(p.bytes)) {
          const n = w.size / 4;
          const code = `${decls(["g", "w"])}
${main1d(n)}
  w[i] = w[i] - ${lit(this.lr)} * g[i];
}`;
          run(code, [{ buffer: p.grad.buffer, ...w }, { buffer: p.buffer, ...w }], grid(n));
        }
      }
    });
  }

  /** Clears the gradients. */
  zeroGrad(): void {
    for (const p of this.params) {
      p.grad?.dispose();
      p.grad = null;
    }
  }
}
