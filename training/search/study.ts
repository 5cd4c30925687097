/**
 * A study: the trials of one hyper-parameter search, shared by every worker that opens it
 * by name (processes on one machine through SQLite, `study_sqlite.ts`; machines through
 * PostgreSQL, `study_postgres.ts`).
 *
 * The first worker creates the study with its definition (space, sampler, pruner, seed,
 * number of trials, direction) and its nTrials queued trials 0 … nTrials−1. A worker that
 * opens the same name with the same definition joins; a different one is a `UsageError`
 * naming every difference; opening without a definition joins whatever is stored.
 *
 * A worker loops: `reapDead` (a trial whose worker stopped heart-beating is re-queued
 * once), `claim` (a re-queued trial first, else the lowest never-claimed number, whose
 * configuration the sampler gives then), train with `heartbeat` now and then and `report`
 * after each epoch (the pruner's verdict comes back), then `finish`. A claim is a token:
 * once its trial was reaped, the old claim's `report`/`finish` throw `StaleTrialError` and
 * its `heartbeat` says false. `release` hands a trial back unfinished (an interrupted
 * worker), so a stopped study resumes with exactly the unfinished trials; `fail` ends a
 * claim whose training failed (queued again once, as a dead worker's trial is).
 */
import { hostname } from "node:os";
import { processAlive } from "../lock.ts";
import { UsageError } from "../../core/errors.ts";
import type { HValue } from "./types.ts";
import { type SearchSpace, spaceDifferences } from "./space.ts";
import { type Sampler, samplerFromSpec, type SamplerSpec } from "./sampler.ts";
import { type Pruner, prunerFromSpec, type PrunerSpec, type Verdict } from "./pruner.ts";
import type { Direction, EpochValue, TrialRecord, TrialState } from "./types.ts";

/** The shared types, re-exported so a study's users need one import. */
export type { Direction, EpochValue, TrialRecord, TrialState, Verdict };

/** The most trials a study may have (every one is a row from the start). */
export const MAX_TRIALS = 100_000;

/** What a study is: fixed when it is created. */
export interface StudyDefinition {
  /** What the trials draw their configurations from. */
  space: SearchSpace;
  /** Gives each trial's configuration. */
  sampler: Sampler;
  /** Says whether a running trial goes on after each report. */
  pruner: Pruner;
  /** The study's seed (a non-negative safe integer): trial n's draws derive from it. */
  seed: number;
  /** How many trials the study runs, 1 … MAX_TRIALS. */
  nTrials: number;
  /** Which way the value is better. */
  direction: Direction;
}

/** A definition as stored (JSON): the sampler and pruner as their specs. */
export interface StoredDefinition {
  /** The space. */
  space: SearchSpace;
  /** The sampler's spec. */
  sampler: SamplerSpec;
  /** The pruner's spec. */
  pruner: PrunerSpec;
  /** The study's seed. */
  seed: number;
  /** How many trials. */
  nTrials: number;
  /** Which way the value is better. */
  direction: Direction;
}

/** A claimed trial: what the worker trains, and the token its later calls carry. */
export interface Trial {
  /** The trial's number. */
  number: number;
  /** Its configuration: a value for every key of the space. */
  params: Record<string, HValue>;
  /** Which claim of this trial this is (1, or 2 for a re-queued one). */
  attempt: number;
  /** The worker that claimed it. */
  worker: string;
}

/** A trial `reapDead` took from a dead worker. */
export interface ReapedTrial {
  /** The trial's number. */
  number: number;
  /** The worker that stopped heart-beating. */
  worker: string;
  /** True when it was queued again; false when it had been re-queued before (now failed). */
  requeued: boolean;
}

/** A finished state. */
export type FinalState = "complete" | "pruned" | "failed";

/** The operations of a study, whatever the store. */
export interface Study {
  /** The study's name. */
  readonly name: string;
  /** Where the study lives (a file, or a masked PostgreSQL URL): never holds a password. */
  readonly where: string;
  /** The study's stored definition. */
  readonly definition: StudyDefinition;
  /**
   * Claims the next trial for `worker`: a re-queued one first, else the lowest number never
   * claimed (its configuration drawn now). Undefined when none is queued (all claimed or
   * finished; a running one may still come back through `reapDead`).
   */
  claim(worker: string): Promise<Trial | undefined>;
  /** Marks the claim alive; false when the trial is no longer this claim's (reaped). */
  heartbeat(trial: Trial): Promise<boolean>;
  /**
   * Records the value at `epoch` (from 1; a heartbeat too) and returns the pruner's verdict
   * from every trial's stored reports. `StaleTrialError` when the claim was reaped.
   */
  report(trial: Trial, epoch: number, value: number): Promise<Verdict>;
  /**
   * Ends the trial. `complete` needs its final value; `pruned` defaults to the last
   * reported one. `StaleTrialError` when the claim was reaped.
   */
  finish(trial: Trial, state: FinalState, value?: number): Promise<void>;
  /** Hands the trial back unfinished: queued again (first in line), its claim undone. */
  release(trial: Trial): Promise<void>;
  /**
   * Ends a claim whose training failed, as `reapDead` ends a dead worker's: queued again
   * (first in line, its configuration kept, its reports dropped) when it was claimed once,
   * else failed. True when it was queued again. `StaleTrialError` when the claim was reaped.
   */
  fail(trial: Trial): Promise<boolean>;
  /**
   * Takes every running trial whose last heartbeat is `timeoutMs` or more ago (0: every
   * running trial), or whose worker `isDead` says is gone (a process of this host that no
   * longer exists: known at once, without waiting for the heartbeat to go stale): queued
   * again with its configuration if it was claimed once, else failed. Its reports are
   * dropped when it is queued again.
   */
  reapDead(timeoutMs: number, isDead?: (worker: string) => boolean): Promise<ReapedTrial[]>;
  /** Every trial, by number. */
  trials(): Promise<TrialRecord[]>;
  /** Closes the store's connection or file (the study itself lives on). */
  close(): Promise<void>;
}

/** A call on a claim whose trial was reaped and may be another worker's now. */
export class StaleTrialError extends Error {
  /** The error's name. */
  override name = "StaleTrialError";
  /** Builds the error for trial `number`'s claim `attempt` by `worker`. */
  constructor(readonly number: number, readonly attempt: number, worker: string) {
    super(
      `trial ${number} (claim ${attempt} by ${worker}) is no longer running under this claim: ` +
        "it was reaped or finished",
    );
  }
}

/** A worker id for this process: `host:pid`. */
export function defaultWorkerId(): string {
  return `${hostname()}:${Deno.pid}`;
}

/**
 * Whether a worker id (`host:pid`) names a process of this host that no longer exists. A
 * worker of another host is never judged here: only its heartbeat can say it is gone.
 */
export function deadLocalWorker(worker: string): boolean {
  const at = worker.lastIndexOf(":");
  if (at < 0 || worker.slice(0, at) !== hostname()) return false;
  const pid = Number(worker.slice(at + 1));
  return Number.isInteger(pid) && pid > 0 && !processAlive(pid);
}

/** Checks a study name (`UsageError`): 1–200 printable characters. */
export function checkStudyName(name: string): void {
  const control = [...String(name)].some((c) => c.charCodeAt(0) < 32 || c.charCodeAt(0) === 127);
  if (typeof name !== "string" || !name || name.length > 200 || control) {
    throw new UsageError(
      `--study: bad study name ${JSON.stringify(name)} (1-200 printable characters)`,
    );
  }
}

/** Checks a definition (`UsageError`, one line). */
export function checkDefinition(def: StudyDefinition): void {
  if (!Number.isInteger(def.nTrials) || def.nTrials < 1 || def.nTrials > MAX_TRIALS) {
    throw new UsageError(
      `--trials: must be an integer from 1 to ${MAX_TRIALS}, got ${def.nTrials}`,
    );
  }
  if (!Number.isSafeInteger(def.seed) || def.seed < 0) {
    throw new UsageError(`--seed: must be a non-negative integer, got ${def.seed}`);
  }
  if (def.direction !== "max" && def.direction !== "min") {
    throw new UsageError(`--direction: must be max or min, got ${def.direction}`);
  }
  const mode = (def.pruner.spec as { mode?: Direction }).mode;
  if (mode !== undefined && mode !== def.direction) {
    throw new UsageError(
      `--pruner: its mode is ${mode} but the study's direction is ${def.direction}`,
    );
  }
  if (!Object.keys(def.space).length) throw new UsageError("--grid: the search space is empty");
}

/** The definition as stored. */
export function storedDefinition(def: StudyDefinition): StoredDefinition {
  return {
    space: def.space,
    sampler: def.sampler.spec,
    pruner: def.pruner.spec,
    seed: def.seed,
    nTrials: def.nTrials,
    direction: def.direction,
  };
}

/** A definition back from its stored JSON text. */
export function definitionFromJson(text: string): StudyDefinition {
  const s = JSON.parse(text) as StoredDefinition;
  return {
    space: s.space,
    sampler: samplerFromSpec(s.sampler),
    pruner: prunerFromSpec(s.pruner),
    seed: s.seed,
    nTrials: s.nTrials,
    direction: s.direction,
  };
}

function canon(v: unknown): string {
  return JSON.stringify(
    v,
    (_k, x) =>
      x && typeof x === "object" && !Array.isArray(x)
        ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => (a < b ? -1 : 1)))
        : x,
  );
}

/** How `given` differs from `stored`, one phrase each (empty: the same study). */
export function definitionDifferences(stored: StudyDefinition, given: StudyDefinition): string[] {
  const out = spaceDifferences(stored.space, given.space).map((d) => `space ${d}`);
  const [a, b] = [storedDefinition(stored), storedDefinition(given)];
  for (const k of ["sampler", "pruner", "seed", "nTrials", "direction"] as const) {
    if (canon(a[k]) !== canon(b[k])) {
      const name = k === "nTrials" ? "trials" : k;
      out.push(`${name} ${canon(b[k])} here, ${canon(a[k])} in the study`);
    }
  }
  return out;
}

/** Throws `UsageError` naming the differences when `given` is not the stored study. */
export function checkSameStudy(
  name: string,
  where: string,
  stored: StudyDefinition,
  given: StudyDefinition,
): void {
  const diff = definitionDifferences(stored, given);
  if (diff.length) {
    throw new UsageError(
      `--study: study "${name}" in ${where} was created with a different definition: ` +
        `${diff.join("; ")} (use the same flags to join it, or another --study name)`,
    );
  }
}

/** Checks a report's epoch (an integer >= 1). */
export function checkEpoch(epoch: number): void {
  if (!Number.isInteger(epoch) || epoch < 1) {
    throw new RangeError(`report: the epoch must be an integer >= 1, got ${epoch}`);
  }
}

/** Checks a finish call and gives the value to store (null: none, or not finite). */
export function finishValue(
  trial: Trial,
  state: FinalState,
  value: number | undefined,
  reports: readonly EpochValue[],
): number | null {
  if (!["complete", "pruned", "failed"].includes(state)) {
    throw new RangeError(`finish: bad state ${state}`);
  }
  if (state === "complete" && typeof value !== "number") {
    throw new RangeError(`finish: trial ${trial.number} is complete but has no value`);
  }
  const v = value ?? (state === "pruned" ? reports.at(-1)?.value : undefined);
  return v !== undefined && Number.isFinite(v) ? v : null;
}

/** A stored value back: null (none or not finite) is NaN in a report. */
export function reportValue(v: number | null): number {
  return v === null ? NaN : Number(v);
}

/** A report's value as stored (null when not finite). */
export function storedValue(v: number): number | null {
  return Number.isFinite(v) ? v : null;
}

/** Checks reapDead's timeout (a number >= 0). */
export function checkTimeout(timeoutMs: number): void {
  if (typeof timeoutMs !== "number" || !(timeoutMs >= 0)) {
    throw new RangeError(`reapDead: the timeout must be a number >= 0, got ${timeoutMs}`);
  }
}

/**
 * Heart-beats `trial` every `intervalMs` until `stop()`; `lost` turns true (and the beats
 * stop) once the study says the claim is gone, and `onLost` is called. Store errors are
 * passed to `onError` (default: ignored; the next beat retries).
 */
export function keepAlive(
  study: Study,
  trial: Trial,
  intervalMs: number,
  hooks: { onLost?: () => void; onError?: (e: unknown) => void } = {},
): { stop(): void; readonly lost: boolean } {
  let lost = false, busy = false;
  const id = setInterval(async () => {
    if (busy || lost) return;
    busy = true;
    try {
      if (!(await study.heartbeat(trial))) {
        lost = true;
        clearInterval(id);
        hooks.onLost?.();
      }
    } catch (e) {
      hooks.onError?.(e);
    } finally {
      busy = false;
    }
  }, intervalMs);
  return {
    stop: () => clearInterval(id),
    get lost() {
      return lost;
    },
  };
}
