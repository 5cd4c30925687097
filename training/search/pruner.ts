/**
 * Pruners: whether a running trial goes on after reporting its value at an epoch. Each is
 * a pure function of the reported history (`decide(history, trial, epoch, value)`), so
 * the same rule runs against any store: a store records the report, then asks.
 *
 *   median  prune when the value at epoch e is worse than the median of the other trials'
 *           values at e (the completed trials', as Optuna's MedianPruner, or every other
 *           trial's), once `minTrials` of them have one and after `warmupEpochs` epochs.
 *   asha    asynchronous successive halving (Li et al. 2018; as Ray Tune's ASHA): rungs at
 *           gracePeriod·η^k epochs below maxEpochs; a trial reaching a rung goes on iff its
 *           value is among the best max(1, ⌊n/η⌋) of the n values recorded at that rung so
 *           far (its own included), decided at once, without waiting for a full rung.
 *   none    never prunes.
 *
 * A value that is not finite (NaN: a diverged loss) is pruned after the warm-up and ranks
 * last among the others' values.
 */
import { UsageError } from "../../core/errors.ts";
import { better, type Direction, type EpochValue, type TrialState } from "./types.ts";

/** What a pruner says after a report. */
export type Verdict = "continue" | "prune";

/** What a pruner reads of each trial (a `TrialRecord` has it). */
export interface ReportedTrial {
  /** The trial's number. */
  number: number;
  /** Where it stands. */
  state: TrialState;
  /** Its reported values, by epoch. */
  reports: readonly EpochValue[];
}

/** A pruner as a study stores it (JSON). */
export type PrunerSpec =
  | { kind: "none" }
  | {
    kind: "median";
    warmupEpochs: number;
    minTrials: number;
    among: "complete" | "others";
    mode: Direction;
  }
  | {
    kind: "asha";
    gracePeriod: number;
    reductionFactor: number;
    maxEpochs: number;
    mode: Direction;
  };

/** Decides whether a trial goes on. */
export interface Pruner {
  /** Its settings, as the study stores them. */
  readonly spec: PrunerSpec;
  /**
   * The verdict for `trial` reporting `value` at `epoch` (from 1), given every trial's
   * stored reports; the trial's own entry in `history` (if any) counts only for its
   * earlier epochs.
   */
  decide(history: readonly ReportedTrial[], trial: number, epoch: number, value: number): Verdict;
}

/** The median pruner's settings. */
export interface MedianOptions {
  /** The first `warmupEpochs` epochs are never pruned (0). */
  warmupEpochs?: number;
  /** How many other trials must have a value at the epoch before any pruning (5). */
  minTrials?: number;
  /** Whose values make the median: the completed trials' (default) or all the others'. */
  among?: "complete" | "others";
  /** Which way is better ("max"). */
  mode?: Direction;
}

/** ASHA's settings. */
export interface AshaOptions {
  /** The first rung, in epochs (an integer >= 1). */
  gracePeriod: number;
  /** η: each rung keeps the best 1/η (a number > 1; 3 is usual). */
  reductionFactor: number;
  /** The trials' full length in epochs: no rung at or above it. */
  maxEpochs: number;
  /** Which way is better ("max"). */
  mode?: Direction;
}

function int(v: unknown, what: string, min: number): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < min) {
    throw new UsageError(`--pruner: ${what} must be an integer >= ${min}, got ${v}`);
  }
  return v;
}

function mode(v: unknown): Direction {
  if (v === undefined) return "max";
  if (v !== "max" && v !== "min") {
    throw new UsageError(`--pruner: mode must be max or min, got ${v}`);
  }
  return v;
}

/** The median of finite numbers (mean of the middle two for an even count). */
export function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** The pruner that never prunes. */
export function noPruner(): Pruner {
  return { spec: { kind: "none" }, decide: () => "continue" };
}

/** The median pruner (see the module comment). Throws `UsageError` for bad settings. */
export function medianPruner(opts: MedianOptions = {}): Pruner {
  const among = opts.among ?? "complete";
  if (among !== "complete" && among !== "others") {
    throw new UsageError(`--pruner: median among must be complete or others, got ${among}`);
  }
  const spec = {
    kind: "median" as const,
    warmupEpochs: int(opts.warmupEpochs ?? 0, "warmupEpochs", 0),
    minTrials: int(opts.minTrials ?? 5, "minTrials", 1),
    among,
    mode: mode(opts.mode),
  };
  return {
    spec,
    decide(history, trial, epoch, value): Verdict {
      if (epoch <= spec.warmupEpochs) return "continue";
      if (!Number.isFinite(value)) return "prune";
      const others: number[] = [];
      for (const t of history) {
        if (t.number === trial || (among === "complete" && t.state !== "complete")) continue;
        const r = t.reports.find((x) => x.epoch === epoch);
        if (r && Number.isFinite(r.value)) others.push(r.value);
      }
      if (others.length < spec.minTrials) return "continue";
      return better(median(others), value, spec.mode) ? "prune" : "continue";
    },
  };
}

/** ASHA's rungs: gracePeriod·η^k epochs, for every k with a rung below maxEpochs. */
export function ashaRungs(
  gracePeriod: number,
  reductionFactor: number,
  maxEpochs: number,
): number[] {
  const rungs: number[] = [];
  for (let r = gracePeriod; r < maxEpochs; r *= reductionFactor) rungs.push(r);
  return rungs;
}

/** ASHA (see the module comment). Throws `UsageError` for bad settings. */
export function ashaPruner(opts: AshaOptions): Pruner {
  const eta = opts.reductionFactor;
  if (typeof eta !== "number" || !Number.isFinite(eta) || !(eta > 1)) {
    throw new UsageError(`--pruner: asha reductionFactor must be a number > 1, got ${eta}`);
  }
  const gracePeriod = int(opts.gracePeriod, "asha gracePeriod", 1);
  const spec = {
    kind: "asha" as const,
    gracePeriod,
    reductionFactor: eta,
    maxEpochs: int(opts.maxEpochs, "asha maxEpochs", gracePeriod),
    mode: mode(opts.mode),
  };
  const rungs = ashaRungs(spec.gracePeriod, eta, spec.maxEpochs);
  /** The value a trial recorded at a rung: its first report at or past it. */
  const atRung = (reports: readonly EpochValue[], rung: number) => {
    let first: EpochValue | undefined;
    for (const r of reports) if (r.epoch >= rung && (!first || r.epoch < first.epoch)) first = r;
    return first;
  };
  return {
    spec,
    decide(history, trial, epoch, value): Verdict {
      const own = history.find((t) => t.number === trial)?.reports ?? [];
      const before = own.reduce((m, r) => (r.epoch < epoch ? Math.max(m, r.epoch) : m), 0);
      // The highest rung this report crosses (none crossed: nothing to decide).
      const rung = rungs.filter((r) => before < r && r <= epoch).at(-1);
      if (rung === undefined) return "continue";
      if (!Number.isFinite(value)) return "prune";
      const values = [value];
      for (const t of history) {
        if (t.number === trial) continue;
        const r = atRung(t.reports, rung);
        if (r) values.push(Number.isFinite(r.value) ? r.value : NaN);
      }
      const keep = Math.max(1, Math.floor(values.length / eta));
      const ranked = values.sort((
        a,
        b,
      ) => (better(a, b, spec.mode) ? -1 : better(b, a, spec.mode) ? 1 : 0));
      return better(ranked[keep - 1], value, spec.mode) ? "prune" : "continue";
    },
  };
}

/**
 * The pruner a stored spec describes (`{kind: "median", …}`, `{kind: "asha", …}`,
 * `{kind: "none"}` or just the name `none`). Throws `UsageError` for anything else.
 */
export function prunerFromSpec(spec: unknown): Pruner {
  const s = (typeof spec === "string" ? { kind: spec } : spec) as Record<string, unknown> | null;
  if (s?.kind === "none") return noPruner();
  if (s?.kind === "median") return medianPruner(s as MedianOptions);
  if (s?.kind === "asha") return ashaPruner(s as unknown as AshaOptions);
  throw new UsageError(
    `--pruner: unknown pruner ${JSON.stringify(spec)} (use none, median or asha)`,
  );
}
