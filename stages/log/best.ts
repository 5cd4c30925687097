/**
 * The one rule that picks a run's best epoch, used by best.ckpt, summary.json, report.html,
 * the best-N table and TensorBoard alike: the highest `by` (default TestAccuracy; lowest
 * when `by` ends in "Loss"), ties to the lower test loss, then to the earlier epoch.
 * A value that is not a finite number never wins.
 */

/** The figures the rule reads from an epoch (a metrics row, a summary epoch …). */
export interface Scored {
  /** The epoch number; the last tie-break (earlier wins). */
  epoch?: number | string | null;
  /** The test loss; the first tie-break (lower wins). */
  TestLoss?: number | string | null;
  /** Any other figure, such as the `by` metric (numbers or numeric strings; others never win). */
  [metric: string]: unknown;
}

function num(v: unknown): number {
  const n = typeof v === "number" ? v : typeof v === "string" && v.trim() ? Number(v) : NaN;
  return Number.isFinite(n) ? n : NaN;
}

/**
 * Negative when `a` is better than `b`, positive when worse, 0 only for the same epoch
 * figures: sorts best first.
 *
 * @example
 * rows.sort((a, b) => compareEpochs(a, b)); // rows[0] is the best epoch
 */
export function compareEpochs(a: Scored, b: Scored, by = "TestAccuracy"): number {
  const sign = by.endsWith("Loss") ? 1 : -1;
  const key = (x: Scored) => {
    const v = num(x[by]);
    return Number.isNaN(v) ? Infinity : sign * v;
  };
  const loss = (x: Scored) => {
    const v = num(x.TestLoss);
    return Number.isNaN(v) ? Infinity : v;
  };
  return key(a) - key(b) || loss(a) - loss(b) || num(a.epoch) - num(b.epoch) || 0;
}

/** The best of `items` by the rule (undefined for none). */
export function bestOf<T extends Scored>(items: readonly T[], by = "TestAccuracy"): T | undefined {
  let best: T | undefined;
  for (const x of items) if (!best || compareEpochs(x, best, by) < 0) best = x;
  return best;
}
