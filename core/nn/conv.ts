/**
 * Conv2d: 2-D convolution layer with PyTorch's weight layout [out, in/groups, kh, kw] and
 * PyTorch's default initialisation (kaiming_uniform(a=√5): weight and bias uniform in
 * ±1/√fan_in, fan_in = in/groups·kh·kw). The bias is tied (one per filter) by default, or
 * untied (one per output location, [out, oh, ow]) as an option.
 */
import { conv2d, type Conv2dOpOptions, convGeometry, type Pair } from "../ops/conv.ts";
import { Rng } from "../random.ts";
import { fromArray, type Tensor } from "../tensor.ts";
import { Module } from "./module.ts";

/** Options of `Conv2d`. */
export interface Conv2dOptions extends Conv2dOpOptions {
  /**
   * Bias: true or "tied" (default, one per output channel), "untied" (one per output
   * location; needs `inputSize`), false (none).
   */
  bias?: boolean | "tied" | "untied";
  /** Input [height, width]: required for an untied bias (it fixes the output size). */
  inputSize?: readonly [number, number];
  /** Seed of the initialisation (default 0). */
  seed?: number;
  /** Generator to draw the initialisation from (overrides `seed`). */
  rng?: Rng;
}

/**
 * A 2-D convolution layer: x [N, in, H, W] → [N, out, OH, OW].
 *
 * @example
 * const conv = new Conv2d(1, 16, 3, { padding: 1 });          // 28×28 → 28×28
 * const down = new Conv2d(16, 32, 3, { stride: 2, padding: "same", relu: true });
 * const local = new Conv2d(3, 8, 5, { bias: "untied", inputSize: [32, 32] });
 */
export class Conv2d extends Module {
  /** Filters, [out, in/groups, kh, kw] (`weight`). */
  readonly weight: Tensor;
  /** Bias (`bias`): [out] when tied, [out, OH, OW] when untied, null when off. */
  readonly bias: Tensor | null;
  /** [kh, kw], a single number given expanded to both. */
  readonly kernelSize: [number, number];
  /** What `forward` passes to `conv2d`: stride, padding, dilation, groups, relu. */
  readonly options: Conv2dOpOptions;

  /**
   * `kernelSize`: one size or [kh, kw]. Throws unless `groups` divides both channel counts,
   * and on an untied bias without `inputSize`.
   */
  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    kernelSize: Pair,
    opts: Conv2dOptions = {},
  ) {
    super();
    const k: [number, number] = typeof kernelSize === "number"
      ? [kernelSize, kernelSize]
      : [kernelSize[0], kernelSize[1]];
    this.kernelSize = k;
    const groups = opts.groups ?? 1;
    if (inChannels % groups !== 0 || outChannels % groups !== 0) {
      throw new Error(
        `Conv2d: groups ${groups} must divide in ${inChannels} and out ${outChannels} channels`,
      );
    }
    this.options = {
      stride: opts.stride,
      padding: opts.padding,
      dilation: opts.dilation,
      groups,
      relu: opts.relu,
    };
    const rng = opts.rng ?? new Rng(opts.seed ?? 0);
    const fanIn = (inChannels / groups) * k[0] * k[1];
    const bound = 1 / Math.sqrt(fanIn);
    const draw = (n: number) => {
      const a = new Float32Array(n);
      for (let i = 0; i < n; i++) a[i] = rng.uniform(-bound, bound);
      return a;
    };
    const wShape = [outChannels, inChannels / groups, k[0], k[1]];
    this.weight = this.param("weight", fromArray(draw(wShape.reduce((p, d) => p * d)), wShape));
    const kind = opts.bias === undefined || opts.bias === true ? "tied" : opts.bias;
    if (kind === "tied") {
      this.bias = this.param("bias", fromArray(draw(outChannels), [outChannels]));
    } else if (kind === "untied") {
      if (!opts.inputSize) {
        throw new Error("Conv2d: an untied bias needs inputSize: [height, width]");
      }
      const g = convGeometry([1, inChannels, ...opts.inputSize], wShape, this.options);
      this.bias = this.param(
        "bias",
        fromArray(draw(outChannels * g.OH * g.OW), [outChannels, g.OH, g.OW]),
      );
    } else this.bias = null;
  }

  /** x: [N, in, H, W] → [N, out, OH, OW]. */
  forward(x: Tensor): Tensor {
    return conv2d(x, this.weight, this.bias, this.options);
  }
}
