/**
 * The "batchnorm" layer plugin (a regularizer placed in the network): `create(options)` gives a factory that makes one batch-norm
 * layer per feature count with those options, so a network builder can insert one after
 * each layer: `bn(64)` (BatchNorm2d when `dims: 2`, BatchNorm1d when `dims: 1`, a
 * rank-agnostic BatchNorm otherwise), or explicitly `bn.d1(4000)`, `bn.d2(64)`.
 */
import {
  BatchNorm,
  BatchNorm1d,
  BatchNorm2d,
  type BatchNormOptions,
} from "../../core/nn/batchnorm.ts";
import type { Plugin } from "../registry.ts";
import { checkOptions } from "../options.ts";

/** Options of the batch-norm layer plugin: the layers' options and which layer `bn(n)` makes. */
export interface BatchNormRegularizerOptions extends BatchNormOptions {
  /** 1: BatchNorm1d, 2: BatchNorm2d; omitted: BatchNorm for [N, C] and [N, C, …] alike. */
  dims?: 1 | 2;
}

/** Makes batch-norm layers with fixed options, one per feature (channel) count. */
export interface BatchNormFactory {
  (features: number): BatchNorm;
  /** A BatchNorm1d over `features`. */
  d1(features: number): BatchNorm1d;
  /** A BatchNorm2d over `channels`. */
  d2(channels: number): BatchNorm2d;
  /** The options every layer gets. */
  readonly options: Readonly<BatchNormRegularizerOptions>;
}

const KNOWN = ["eps", "momentum", "affine", "trackRunningStats", "dims"];

/**
 * @example
 * const bn = create<BatchNormFactory>("layer", "batchnorm", { dims: 2 });
 * const net = new Sequential(conv1, bn(64), new ReLU(), …);
 */
export const batchNormPlugin: Plugin<BatchNormRegularizerOptions, BatchNormFactory> = {
  kind: "layer",
  name: "batchnorm",
  description: "Batch normalisation layers (PyTorch defaults), one per feature count",
  create(options: BatchNormRegularizerOptions = {}): BatchNormFactory {
    checkOptions("batchnorm", options, KNOWN);
    const { dims, ...layer } = options;
    if (dims !== undefined && dims !== 1 && dims !== 2) {
      throw new Error(`layer "batchnorm": dims must be 1 or 2, got ${dims}`);
    }
    const make = (n: number): BatchNorm =>
      dims === 2
        ? new BatchNorm2d(n, layer)
        : dims === 1
        ? new BatchNorm1d(n, layer)
        : new BatchNorm(n, layer);
    return Object.assign(make, {
      d1: (n: number) => new BatchNorm1d(n, layer),
      d2: (n: number) => new BatchNorm2d(n, layer),
      options: Object.freeze({ ...options }),
    });
  },
};
