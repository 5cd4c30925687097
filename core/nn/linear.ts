/** Linear: y = x·Wᵀ + b with W in PyTorch's [out, in] layout and PyTorch's initialisation. */
import { linear } from "../ops/matmul.ts";
import { Rng } from "../random.ts";
import { fromArray, type Tensor, zeros } from "../tensor.ts";
import { Module } from "./module.ts";

/** Options of `Linear`. */
export interface LinearOptions {
  /** Learn a bias (default true). */
  bias?: boolean;
  /** Seed of the initialisation (default 0). */
  seed?: number;
  /** Generator to draw the initialisation from (overrides `seed`). */
  rng?: Rng;
  /** Start from zeros instead (for worked examples). */
  zeroInit?: boolean;
}

/**
 * A fully connected layer. Weights and bias start uniform in ±1/√in, as PyTorch's
 * `kaiming_uniform_(a=√5)` gives.
 *
 * @example
 * const fc = new Linear(784, 256);
 * const y = fc.forward(x); // x: [n, 784] → y: [n, 256]
 */
export class Linear extends Module {
  /** W, [out, in] (`weight`). */
  readonly weight: Tensor;
  /** b, [out] (`bias`); null with `bias: false`. */
  readonly bias: Tensor | null;

  /** `inFeatures` → `outFeatures`: the feature sizes of the input [n, in] and output [n, out]. */
  constructor(readonly inFeatures: number, readonly outFeatures: number, opts: LinearOptions = {}) {
    super();
    const rng = opts.rng ?? new Rng(opts.seed ?? 0);
    const bound = 1 / Math.sqrt(inFeatures);
    const init = (n: number) => {
      const a = new Float32Array(n);
      if (!opts.zeroInit) { for (let k = 0; k < n; k++) a[k] = rng.uniform(-bound, bound); }
      return a;
    };
    this.weight = this.param(
      "weight",
      opts.zeroInit
        ? zeros([outFeatures, inFeatures])
        : fromArray(init(outFeatures * inFeatures), [outFeatures, inFeatures]),
    );
    this.bias = opts.bias === false ? null : this.param(
      "bias",
      fromArray(init(outFeatures), [outFeatures]),
    );
  }

  /** x: [n, in] → [n, out]. */
  forward(x: Tensor): Tensor {
    return linear(x, this.weight, this.bias);
  }
}
