/**
 * Evaluate stage: batches in, one `Evaluation` out when the stream ends. The caller's
 * `forward` runs the model (eval mode, no gradients) and reads its `[n, C]` outputs back
 * once per batch; everything else happens here on the CPU. `EpochMetrics` is the record
 * an epoch hands to the log stages.
 */
import type { Batch } from "./types.ts";
import { type Metrics, MetricsAccumulator, type Prediction, type SplitFigures } from "./metrics.ts";

/** A hyper-parameter value (numbers stay numbers). */
export type HValue = number | string | boolean;

/** A prediction kept for reports, with the sample's source path. */
export interface SamplePrediction extends Prediction {
  /** Source file of the sample ("" when the batch had none). */
  path: string;
}

/** The result of evaluating one split. */
export interface Evaluation extends Metrics {
  /** The first `keep` samples' predictions (for reports). */
  samples: SamplePrediction[];
  /** Seconds spent evaluating. */
  durationSec: number;
}

/** One epoch's figures, as the log stages take them. */
export interface EpochMetrics {
  /** Run name (its folder name in a grid). */
  run: string;
  /** Epoch number, from 1. */
  epoch: number;
  /** Optimizer steps taken so far in the run. */
  step: number;
  /** Running figures over the training split. */
  train: SplitFigures;
  /** Evaluation of the test (validation) split. */
  test: Evaluation | Metrics;
  /** Learning rate used in the epoch. */
  lr: number;
  /** Wall-clock seconds of the epoch (training and evaluation). */
  durationSec: number;
  /** The run's hyper-parameters. */
  hparams: Record<string, HValue>;
  /** Unix seconds at the end of the epoch (default: now). */
  wallTime?: number;
}

/** Options of the evaluate stage. */
export interface EvaluateOptions {
  /** Runs the model on a batch and returns its `[n, C]` logits or log-probabilities. */
  forward: (batch: Batch) => Promise<Float32Array>;
  /** Number of classes C. */
  numClasses: number;
  /** Predictions to keep for reports (default 16). */
  keep?: number;
  /** The k of top-k accuracy (default 5). */
  k?: number;
}

/** Stage: evaluate every batch, emit one `Evaluation` when the input ends. */
export function evaluate(options: EvaluateOptions): TransformStream<Batch, Evaluation> {
  const acc = new MetricsAccumulator(options.numClasses, options.k ?? 5);
  const keep = options.keep ?? 16;
  const samples: SamplePrediction[] = [];
  const t0 = performance.now();
  const C = options.numClasses;
  return new TransformStream({
    async transform(batch) {
      const out = await options.forward(batch);
      const preds = acc.add(out, batch.labels);
      for (let i = 0; i < preds.length && samples.length < keep; i++) {
        const o = i * C;
        let max = -Infinity, sum = 0;
        for (let c = 0; c < C; c++) max = Math.max(max, out[o + c]);
        for (let c = 0; c < C; c++) sum += Math.exp(out[o + c] - max);
        samples.push({
          index: acc.count - preds.length + i,
          label: batch.labels[i],
          pred: preds[i],
          prob: Math.exp(out[o + preds[i]] - max) / sum,
          path: batch.paths[i] ?? "",
        });
      }
    },
    flush(controller) {
      controller.enqueue({
        ...acc.result(),
        samples,
        durationSec: (performance.now() - t0) / 1000,
      });
    },
  });
}

/** Evaluates a stream of batches and resolves to its `Evaluation`. */
export async function evaluateStream(
  batches: ReadableStream<Batch>,
  options: EvaluateOptions,
): Promise<Evaluation> {
  let result: Evaluation | undefined;
  for await (const e of batches.pipeThrough(evaluate(options))) result = e;
  return result!;
}
