/**
 * Classification metrics on the CPU, from a model's outputs read back once per batch:
 * loss (the NLL of log-softmax), top-1 and top-5 accuracy, the confusion matrix and the
 * per-class precision, recall and F1 with their macro averages.
 *
 * Outputs may be logits or log-probabilities: log-softmax is idempotent on
 * log-probabilities (their log-sum-exp is 0), so both give the same loss.
 * Ties between scores go to the lower class index, as `argmax` does.
 */

/** Per-class and averaged figures of one evaluation. */
export interface Metrics {
  /** Samples counted. */
  count: number;
  /** Mean negative log-likelihood of the true class under log-softmax. */
  loss: number;
  /** Top-1 accuracy in [0, 1]. */
  accuracy: number;
  /** Top-5 accuracy in [0, 1] (top-C when there are fewer than 5 classes). */
  top5: number;
  /** `confusion[true][predicted]` counts. */
  confusion: number[][];
  /** Per-class precision (0 where nothing was predicted as the class). */
  precision: number[];
  /** Per-class recall (0 where the class has no samples). */
  recall: number[];
  /** Per-class F1 (0 where precision + recall is 0). */
  f1: number[];
  /** Per-class number of true samples. */
  support: number[];
  /** Unweighted means over all classes. */
  macro: { precision: number; recall: number; f1: number };
}

/** Running training-split figures from per-step loss means and correct counts. */
export interface SplitFigures {
  /** Mean loss per sample. */
  loss: number;
  /** Fraction of samples classified correctly. */
  accuracy: number;
  /** Samples counted. */
  count: number;
}

/** One sample's prediction, kept for reports. */
export interface Prediction {
  /** Index of the sample in the evaluation order. */
  index: number;
  /** True class. */
  label: number;
  /** Predicted (top-1) class. */
  pred: number;
  /** Softmax probability of the predicted class. */
  prob: number;
}

/** Log-softmax of each row of an `[n, C]` matrix, in float64. */
export function logSoftmax(outputs: ArrayLike<number>, numClasses: number): Float64Array {
  const n = outputs.length / numClasses;
  const out = new Float64Array(outputs.length);
  for (let i = 0; i < n; i++) {
    const o = i * numClasses;
    let max = -Infinity;
    for (let c = 0; c < numClasses; c++) max = Math.max(max, outputs[o + c]);
    let sum = 0;
    for (let c = 0; c < numClasses; c++) sum += Math.exp(outputs[o + c] - max);
    const lse = max + Math.log(sum);
    for (let c = 0; c < numClasses; c++) out[o + c] = outputs[o + c] - lse;
  }
  return out;
}

/** Rank of class `label` within a row: how many classes beat it (ties to lower index). */
function rankOf(row: ArrayLike<number>, o: number, numClasses: number, label: number): number {
  const v = row[o + label];
  let r = 0;
  for (let c = 0; c < numClasses; c++) {
    const w = row[o + c];
    if (w > v || (w === v && c < label)) r++;
  }
  return r;
}

/** Accumulates metrics over batches; `merge` combines accumulators of disjoint data. */
export class MetricsAccumulator {
  /** Number of classes. */
  readonly numClasses: number;
  #confusion: Float64Array;
  #lossSum = 0;
  #top1 = 0;
  #topk = 0;
  #count = 0;
  #k: number;

  /** Creates an empty accumulator for `numClasses` classes; `k` is the top-k (default 5). */
  constructor(numClasses: number, k = 5) {
    if (!(numClasses >= 1) || !Number.isInteger(numClasses)) {
      throw new Error(`metrics: numClasses must be a positive integer, got ${numClasses}`);
    }
    this.numClasses = numClasses;
    this.#k = Math.min(k, numClasses);
    this.#confusion = new Float64Array(numClasses * numClasses);
  }

  /** Samples counted so far. */
  get count(): number {
    return this.#count;
  }

  /**
   * Adds a batch: `outputs` is `[n, C]` logits or log-probabilities, `labels` has n
   * entries in [0, C). Returns each sample's predicted class.
   */
  add(outputs: ArrayLike<number>, labels: ArrayLike<number>): Int32Array {
    const C = this.numClasses;
    const n = labels.length;
    if (outputs.length !== n * C) {
      throw new Error(`metrics: outputs have ${outputs.length} values, expected ${n}×${C}`);
    }
    const logp = logSoftmax(outputs, C);
    const preds = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const y = labels[i];
      if (!Number.isInteger(y) || y < 0 || y >= C) {
        throw new Error(`metrics: label ${y} of sample ${i} is outside [0, ${C})`);
      }
      const o = i * C;
      let p = 0;
      for (let c = 1; c < C; c++) if (logp[o + c] > logp[o + p]) p = c;
      preds[i] = p;
      this.#lossSum -= logp[o + y];
      if (p === y) this.#top1++;
      if (rankOf(logp, o, C, y) < this.#k) this.#topk++;
      this.#confusion[y * C + p]++;
    }
    this.#count += n;
    return preds;
  }

  /** Adds the counts of another accumulator over the same classes. */
  merge(other: MetricsAccumulator): this {
    if (other.numClasses !== this.numClasses || other.#k !== this.#k) {
      throw new Error("metrics: cannot merge accumulators with different classes or k");
    }
    this.#lossSum += other.#lossSum;
    this.#top1 += other.#top1;
    this.#topk += other.#topk;
    this.#count += other.#count;
    for (let i = 0; i < this.#confusion.length; i++) this.#confusion[i] += other.#confusion[i];
    return this;
  }

  /** The figures so far (NaN loss and accuracies when nothing was added). */
  result(): Metrics {
    const C = this.numClasses;
    const confusion = Array.from(
      { length: C },
      (_, t) => Array.from(this.#confusion.subarray(t * C, (t + 1) * C)),
    );
    const precision: number[] = [], recall: number[] = [], f1: number[] = [];
    const support: number[] = [];
    for (let c = 0; c < C; c++) {
      const tp = confusion[c][c];
      let predicted = 0, actual = 0;
      for (let k = 0; k < C; k++) {
        predicted += confusion[k][c];
        actual += confusion[c][k];
      }
      const p = predicted ? tp / predicted : 0;
      const r = actual ? tp / actual : 0;
      precision.push(p);
      recall.push(r);
      f1.push(p + r ? (2 * p * r) / (p + r) : 0);
      support.push(actual);
    }
    const mean = (a: number[]) => a.reduce((s, v) => s + v, 0) / a.length;
    const n = this.#count;
    return {
      count: n,
      loss: n ? this.#lossSum / n : NaN,
      accuracy: n ? this.#top1 / n : NaN,
      top5: n ? this.#topk / n : NaN,
      confusion,
      precision,
      recall,
      f1,
      support,
      macro: { precision: mean(precision), recall: mean(recall), f1: mean(f1) },
    };
  }
}

/** Metrics of one `[n, C]` output matrix against its labels, in one call. */
export function computeMetrics(
  outputs: ArrayLike<number>,
  labels: ArrayLike<number>,
  numClasses: number,
  k = 5,
): Metrics {
  const acc = new MetricsAccumulator(numClasses, k);
  acc.add(outputs, labels);
  return acc.result();
}

/** Running mean of per-step training figures (loss is the step's mean over its samples). */
export class RunningFigures {
  #lossSum = 0;
  #correct = 0;
  #count = 0;

  /** Adds one step: its mean loss, how many samples were right, and how many there were. */
  add(meanLoss: number, correct: number, count: number): void {
    this.#lossSum += meanLoss * count;
    this.#correct += correct;
    this.#count += count;
  }

  /** The mean loss and accuracy so far. */
  result(): SplitFigures {
    const n = this.#count;
    return {
      loss: n ? this.#lossSum / n : NaN,
      accuracy: n ? this.#correct / n : NaN,
      count: n,
    };
  }
}

/** Probabilities from a row of scores (probabilities, log-probabilities or logits). */
export function toProbabilities(row: Float32Array): Float32Array {
  const sum = row.reduce((a, b) => a + b, 0);
  if (row.every((v) => v >= 0) && Math.abs(sum - 1) < 1e-3) return row;
  const m = Math.max(...row);
  const e = row.map((v) => Math.exp(v - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}
