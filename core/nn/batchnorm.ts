/**
 * Batch normalisation layers with PyTorch's defaults and state-dict names: `weight` (γ,
 * ones), `bias` (β, zeros), `running_mean` (zeros), `running_var` (ones) and
 * `num_batches_tracked` (a float32 scalar here; int64 in PyTorch). Training mode
 * normalises with batch statistics and updates the running ones on the GPU (momentum 0.1,
 * unbiased variance); eval mode normalises with the running statistics.
 */
import { batchNorm } from "../ops/batchnorm.ts";
import type { AvgPoolWindow } from "../ops/batchnorm_pool.ts";
import { fromArray, type Tensor, zeros } from "../tensor.ts";
import { Module } from "./module.ts";

/** Options of the batch-norm layers (PyTorch's names and defaults). */
export interface BatchNormOptions {
  /** Added to the variance (default 1e-5). */
  eps?: number;
  /** Running-average weight of the batch statistic (default 0.1); null: cumulative average. */
  momentum?: number | null;
  /** Learn γ and β (default true). */
  affine?: boolean;
  /** Keep running statistics (default true); without them eval mode uses batch statistics. */
  trackRunningStats?: boolean;
}

/**
 * Batch normalisation over axis 1 of [N, C] or [N, C, d1, …]; `BatchNorm1d` and
 * `BatchNorm2d` add PyTorch's input-rank checks.
 *
 * @example
 * const bn = new BatchNorm2d(64);
 * const y = bn.forward(x); // x: [n, 64, h, w]
 * bn.eval();               // now normalises with the running statistics
 */
export class BatchNorm extends Module {
  /** γ, [C], ones at start (`weight`); null without `affine`. */
  readonly weight: Tensor | null;
  /** β, [C], zeros at start (`bias`); null without `affine`. */
  readonly bias: Tensor | null;
  /** Running mean, [C] (buffer `running_mean`); null without `trackRunningStats`. */
  readonly runningMean: Tensor | null;
  /** Running unbiased variance, [C] (buffer `running_var`); null without `trackRunningStats`. */
  readonly runningVar: Tensor | null;
  /** Training batches seen, a float32 scalar; null without `trackRunningStats`. */
  readonly numBatchesTracked: Tensor | null;
  /** Added to the variance before the square root (default 1e-5). */
  readonly eps: number;
  /** Running-average weight of each batch statistic (default 0.1); null: cumulative average. */
  readonly momentum: number | null;

  /** `numFeatures`: C, the size of axis 1; throws unless a positive integer. */
  constructor(readonly numFeatures: number, opts: BatchNormOptions = {}) {
    super();
    if (!(Number.isInteger(numFeatures) && numFeatures > 0)) {
      throw new Error(`BatchNorm: numFeatures must be a positive integer, got ${numFeatures}`);
    }
    this.eps = opts.eps ?? 1e-5;
    this.momentum = opts.momentum === undefined ? 0.1 : opts.momentum;
    const affine = opts.affine ?? true;
    const ones = () => fromArray(new Float32Array(numFeatures).fill(1), [numFeatures]);
    this.weight = affine ? this.param("weight", ones()) : null;
    this.bias = affine ? this.param("bias", zeros([numFeatures])) : null;
    const track = opts.trackRunningStats ?? true;
    this.runningMean = track ? this.buffer("running_mean", zeros([numFeatures])) : null;
    this.runningVar = track ? this.buffer("running_var", ones()) : null;
    this.numBatchesTracked = track ? this.buffer("num_batches_tracked", zeros([])) : null;
  }

  /** Throws unless `x` has a rank this layer accepts and C = numFeatures. */
  protected checkInput(x: Tensor, ranks: number[], what: string): void {
    if (!ranks.includes(x.shape.length) || x.shape[1] !== this.numFeatures) {
      throw new Error(
        `${this.constructor.name}(${this.numFeatures}): expected ${what}, got [${x.shape}]`,
      );
    }
  }

  #relu = false;
  #pool: AvgPoolWindow | null = null;

  /** `forward(x)` then ReLU, in one kernel (the Sequential fusion rule calls this). */
  forwardRelu(x: Tensor): Tensor {
    this.#relu = true;
    try {
      return this.forward(x);
    } finally {
      this.#relu = false;
    }
  }

  /**
   * `forward(x)`, ReLU, then the mean over non-overlapping `window.KH` × `window.KW`
   * windows of [N, C, H, W] (stride the same, no padding, floor mode) as one op: the
   * full-size result is never stored (the BatchNorm2d → ReLU → AvgPool2d fusion calls this).
   */
  forwardReluAvgPool(x: Tensor, window: AvgPoolWindow): Tensor {
    this.#relu = true;
    this.#pool = window;
    try {
      return this.forward(x);
    } finally {
      this.#relu = false;
      this.#pool = null;
    }
  }

  /** Normalises `x` over every axis but 1; throws unless axis 1 has `numFeatures` entries. */
  forward(x: Tensor): Tensor {
    if (x.shape.length < 2 || x.shape[1] !== this.numFeatures) {
      this.checkInput(x, [x.shape.length], `[N, ${this.numFeatures}, …]`);
    }
    const batchStats = this.training || !this.runningMean;
    return batchNorm(x, this.weight, this.bias, this.runningMean, this.runningVar, {
      training: batchStats,
      momentum: this.momentum,
      eps: this.eps,
      numBatchesTracked: this.training ? this.numBatchesTracked : null,
      relu: this.#relu,
      avgPool: this.#pool,
    });
  }
}

/** Batch normalisation of [N, C] or [N, C, L] (PyTorch's BatchNorm1d). */
export class BatchNorm1d extends BatchNorm {
  /** Normalises a [N, C] or [N, C, L] input; throws on any other rank or C. */
  override forward(x: Tensor): Tensor {
    this.checkInput(x, [2, 3], `[N, ${this.numFeatures}] or [N, ${this.numFeatures}, L]`);
    return super.forward(x);
  }
}

/** Batch normalisation of [N, C, H, W] (PyTorch's BatchNorm2d). */
export class BatchNorm2d extends BatchNorm {
  /** Normalises a [N, C, H, W] input; throws on any other rank or C. */
  override forward(x: Tensor): Tensor {
    this.checkInput(x, [4], `[N, ${this.numFeatures}, H, W]`);
    return super.forward(x);
  }
}
