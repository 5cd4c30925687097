/**
 * summary.json: a run's best epoch (by test accuracy unless told otherwise), its metrics
 * and confusion matrix, next to the run's hyper-parameters and the per-epoch curve.
 */
import type { EpochMetrics, HValue } from "../evaluate.ts";
import { bestOf } from "./best.ts";
import { writeTextAtomic } from "../atomic.ts";

/** The figures of one epoch as summary.json holds them. */
export interface SummaryEpoch {
  /** Epoch number. */
  epoch: number;
  /** Optimizer steps so far. */
  step: number;
  /** Training loss. */
  TrainLoss: number;
  /** Training accuracy. */
  TrainAccuracy: number;
  /** Test loss. */
  TestLoss: number;
  /** Test accuracy (top-1). */
  TestAccuracy: number;
  /** Test top-5 accuracy. */
  TestTop5: number;
  /** Learning rate. */
  lr: number;
  /** Seconds the epoch took. */
  epoch_duration: number;
}

/** The content of summary.json. */
export interface RunSummary {
  /** Run name. */
  run: string;
  /** Metric the best epoch was chosen by. */
  by: string;
  /** The best epoch's number. */
  bestEpoch: number;
  /** The best epoch's figures. */
  best: SummaryEpoch & {
    precision: Record<string, number>;
    recall: Record<string, number>;
    f1: Record<string, number>;
    support: Record<string, number>;
    macro: { precision: number; recall: number; f1: number };
  };
  /** Class names by index. */
  classes: string[];
  /** The best epoch's `confusion[true][predicted]`. */
  confusion: number[][];
  /** Hyper-parameters. */
  hparams: Record<string, HValue>;
  /** Every epoch's figures, in order. */
  epochs: SummaryEpoch[];
}

function row(m: EpochMetrics): SummaryEpoch {
  return {
    epoch: m.epoch,
    step: m.step,
    TrainLoss: m.train.loss,
    TrainAccuracy: m.train.accuracy,
    TestLoss: m.test.loss,
    TestAccuracy: m.test.accuracy,
    TestTop5: m.test.top5,
    lr: m.lr,
    epoch_duration: m.durationSec,
  };
}

/**
 * The best epoch of `history` by the one rule of `best.ts`: highest `by` (lowest when `by`
 * ends in "Loss"), ties to the lower test loss and then the earlier epoch.
 */
export function bestEpoch(history: EpochMetrics[], by = "TestAccuracy"): EpochMetrics {
  if (!history.length) throw new Error("summary: no epochs");
  if (!(by in row(history[0]))) throw new Error(`summary: unknown metric ${by}`);
  const rows = history.map((m, i) => ({ ...row(m), i }));
  return history[bestOf(rows, by)!.i];
}

/** Builds the summary of a run from its epochs. */
export function buildSummary(
  history: EpochMetrics[],
  classes: string[],
  by = "TestAccuracy",
): RunSummary {
  const b = bestEpoch(history, by);
  const named = (v: number[]) => Object.fromEntries(v.map((x, c) => [classes[c] ?? String(c), x]));
  return {
    run: b.run,
    by,
    bestEpoch: b.epoch,
    best: {
      ...row(b),
      precision: named(b.test.precision),
      recall: named(b.test.recall),
      f1: named(b.test.f1),
      support: named(b.test.support),
      macro: b.test.macro,
    },
    classes,
    confusion: b.test.confusion,
    hparams: b.hparams,
    epochs: history.map(row),
  };
}

/** Writes summary.json (non-finite numbers become null) atomically. */
export async function writeSummary(path: string, summary: RunSummary): Promise<void> {
  const text = JSON.stringify(
    summary,
    (_, v) => (typeof v === "number" && !Number.isFinite(v) ? null : v),
    2,
  );
  await writeTextAtomic(path, text + "\n");
}
