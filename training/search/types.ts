/**
 * The types the search modules share: which way a metric is better, the states of a trial
 * and a trial as a study's store holds it (what samplers and pruners read, and what
 * results and reports are built from).
 */
import type { HValue } from "../../stages/evaluate.ts";

/** A hyper-parameter value (numbers stay numbers), as the grid has it. */
export type { HValue };

/** Whether a higher (`max`, e.g. accuracy) or a lower (`min`, e.g. loss) value is better. */
export type Direction = "max" | "min";

/**
 * Where a trial stands: `queued` (waiting to be claimed: never claimed, or re-queued after
 * its worker died or handed it back), `running` (claimed by a worker), and the finished
 * states `complete`, `pruned` and `failed`.
 */
export type TrialState = "queued" | "running" | "complete" | "pruned" | "failed";

/** One reported value: the metric after `epoch` (from 1). NaN when it was not finite. */
export interface EpochValue {
  /** The epoch, from 1. */
  epoch: number;
  /** The value after it (NaN when not finite). */
  value: number;
}

/** A trial as the store holds it. */
export interface TrialRecord {
  /** The trial's number, 0 … nTrials−1. */
  number: number;
  /** Its configuration; undefined until it is first claimed (a sampler gives it then). */
  params?: Record<string, HValue>;
  /** Where it stands. */
  state: TrialState;
  /** The final value given to `finish` (undefined when none, or when it was not finite). */
  value?: number;
  /** The values reported while it ran, by epoch (the current attempt's). */
  reports: EpochValue[];
  /** The worker that claimed it last. */
  worker?: string;
  /** How many times it was claimed (a re-queued trial claimed again has 2). */
  attempts: number;
  /** ISO time of the last claim. */
  started?: string;
  /** ISO time of the finish. */
  ended?: string;
}

/** Whether `a` is strictly better than `b` in `direction` (NaN is never better). */
export function better(a: number, b: number, direction: Direction): boolean {
  if (Number.isNaN(a)) return false;
  if (Number.isNaN(b)) return true;
  return direction === "max" ? a > b : a < b;
}
