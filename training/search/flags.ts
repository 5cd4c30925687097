/**
 * The search flags, checked before anything starts (`UsageError`: exit 2, one line), and
 * the study definition they make with `--grid`, `--seed` and `--epochs`:
 *
 *   --search grid | random | tpe[:startup=10,candidates=24,prior=1]   (unset: grid)
 *   --trials N                       trials of the study (default 20)
 *   --prune none | median[:warmup=0,min_trials=5,among=complete] | asha[:grace=1,eta=3]
 *   --study NAME                     default: the pipeline file's name
 *   --storage postgres://…           default: <out>/study.sqlite
 *   --workers N                      worker processes on this machine (default 1)
 *   --search-worker VERSION_DIR      internal: what --workers gives the processes it starts
 *
 * Under `--search grid` (the default) the other flags are refused: the grid runs every
 * combination, as it always did. The pruners read the test accuracy after each epoch
 * (higher is better: the best-epoch rule of stages/log/best.ts); ASHA's rungs end below
 * `--epochs`. The space's keys are the pipeline's options (as grid keys are), and every
 * tracked option not searched, and `epochs`, join the stored space as fixed values, so a
 * worker started with other values cannot join the study.
 */
import { type Options, UsageError } from "../pipeline.ts";
import { checkTraining, hparamName, optionKey } from "../options.ts";
import { pipelineFile } from "../session.ts";
import { basename } from "node:path";
import {
  type Distribution,
  formatDistribution,
  parseSpace,
  type SearchSpace,
  valueAt,
} from "./space.ts";
import { randomSampler, type Sampler, tpeSampler } from "./sampler.ts";
import { ashaPruner, medianPruner, noPruner, type Pruner } from "./pruner.ts";
import { checkStudyName, MAX_TRIALS, type StudyDefinition } from "./study.ts";
import type { HValue } from "./types.ts";

/** The environment variable that hands the PostgreSQL URL to worker processes. */
export const STORAGE_ENV = "WEBGPU_TRAIN_STUDY_STORAGE";

/** The metric the pruners and the study's value read, and which way it is better. */
export const STUDY_METRIC = "TestAccuracy";

/**
 * Options that are no hyper-parameter (never a grid or space key). `weights` and
 * `features` are read once per invocation (one backbone file, one frozen-part backend for
 * every run), so a grid over them would log values the runs never used.
 */
export const NOT_HYPERPARAMETERS = [
  "out",
  "weights",
  "features",
  "resume",
  "grid",
  "data",
  "search",
  "trials",
  "prune",
  "study",
  "storage",
  "workers",
  "searchWorker",
  "stage",
  "logger",
];

const SEARCH_ONLY = ["trials", "prune", "study", "storage", "workers"] as const;

/** The pruner as given: built once `--epochs` is known. */
export type PruneFlag =
  | { kind: "none" }
  | { kind: "median"; warmup: number; minTrials: number; among: "complete" | "others" }
  | { kind: "asha"; grace: number; eta: number };

/** The checked search flags of a study invocation. */
export interface SearchFlags {
  /** The sampler's name as given (`random`, `tpe:…`). */
  search: string;
  sampler: Sampler;
  trials: number;
  prune: PruneFlag;
  /** The study's name. */
  study: string;
  /** The PostgreSQL URL (with its password: never print it), or undefined for SQLite. */
  storage?: string;
  workers: number;
  /** Set in a worker process: the version folder its parent made. */
  workerOf?: string;
}

/** Whether a --grid text holds a distribution call (`uniform(…)`, `loguniform(…)`, …). */
export function hasDistributionSyntax(text: string): boolean {
  return /\b(uniform|loguniform|int|intuniform|logint|choice)\s*\(/i.test(text);
}

/** `name:key=value,…` split into the name and its settings. */
function settings(flag: string, text: string): { name: string; set: Map<string, string> } {
  const [head, ...rest] = text.trim().split(":");
  const set = new Map<string, string>();
  const tail = rest.join(":").trim();
  if (rest.length && !tail) throw new UsageError(`${flag} ${text}: no settings after ":"`);
  for (const part of tail ? tail.split(",") : []) {
    const eq = part.indexOf("=");
    if (eq < 1) throw new UsageError(`${flag} ${text}: expected key=value, got "${part}"`);
    set.set(part.slice(0, eq).trim().toLowerCase().replace(/-/g, "_"), part.slice(eq + 1).trim());
  }
  return { name: head.trim().toLowerCase(), set };
}

function take(
  flag: string,
  set: Map<string, string>,
  key: string,
  dflt: number,
  ok: (n: number) => boolean,
  what: string,
): number {
  const v = set.get(key);
  set.delete(key);
  if (v === undefined) return dflt;
  const n = v.trim() === "" ? NaN : Number(v);
  if (!Number.isFinite(n) || !ok(n)) {
    throw new UsageError(`${flag}: ${key} must be ${what}, got "${v}"`);
  }
  return n;
}

/** A setting `key=on|off` (also true/false, 1/0), or `dflt` when absent. */
function onOff(flag: string, set: Map<string, string>, key: string, dflt: boolean): boolean {
  const v = set.get(key);
  set.delete(key);
  if (v === undefined) return dflt;
  const t = v.trim().toLowerCase();
  if (["on", "true", "1"].includes(t)) return true;
  if (["off", "false", "0"].includes(t)) return false;
  throw new UsageError(`${flag}: ${key} must be on or off, got "${v}"`);
}

function noneLeft(flag: string, set: Map<string, string>, known: string): void {
  const k = [...set.keys()][0];
  if (k !== undefined) throw new UsageError(`${flag}: unknown setting "${k}" (known: ${known})`);
}

const isInt = (min: number) => (n: number) => Number.isInteger(n) && n >= min;

function parseSampler(text: string): Sampler {
  const { name, set } = settings("--search", text);
  if (name === "random") {
    noneLeft("--search random", set, "none");
    return randomSampler();
  }
  if (name !== "tpe") {
    throw new UsageError(`--search: unknown search "${text}" (use grid, random or tpe)`);
  }
  const f = "--search tpe";
  const sampler = tpeSampler({
    nStartupTrials: take(f, set, "startup", 10, isInt(0), "a whole number ≥ 0"),
    nEiCandidates: take(f, set, "candidates", 24, isInt(1), "a whole number ≥ 1"),
    priorWeight: take(f, set, "prior", 1, (n) => n > 0, "a number > 0"),
    constantLiar: onOff(f, set, "liar", true) ? undefined : false,
  });
  noneLeft(f, set, "startup, candidates, prior, liar");
  return sampler;
}

function parsePrune(text: string | undefined): PruneFlag {
  if (text === undefined || text.trim() === "") return { kind: "none" };
  const { name, set } = settings("--prune", text);
  if (name === "none") {
    noneLeft("--prune none", set, "none");
    return { kind: "none" };
  }
  if (name === "median") {
    const f = "--prune median";
    const among = (set.get("among") ?? "complete") as "complete" | "others";
    set.delete("among");
    if (among !== "complete" && among !== "others") {
      throw new UsageError(`${f}: among must be complete or others, got "${among as string}"`);
    }
    const p = {
      kind: "median" as const,
      warmup: take(f, set, "warmup", 0, isInt(0), "a whole number ≥ 0"),
      minTrials: take(f, set, "min_trials", 5, isInt(1), "a whole number ≥ 1"),
      among,
    };
    noneLeft(f, set, "warmup, min_trials, among");
    return p;
  }
  if (name === "asha") {
    const f = "--prune asha";
    const p = {
      kind: "asha" as const,
      grace: take(f, set, "grace", 1, isInt(1), "a whole number ≥ 1"),
      eta: take(f, set, "eta", 3, (n) => n > 1, "a number > 1"),
    };
    noneLeft(f, set, "grace, eta");
    return p;
  }
  throw new UsageError(`--prune: unknown pruner "${text}" (use none, median or asha)`);
}

/** The study name used when `--study` is not given: the pipeline file's name. */
export function defaultStudyName(): string {
  return basename(pipelineFile()).replace(/\.ts$/, "") || "study";
}

/**
 * The search flags of `o`, checked; undefined for the grid (`--search` unset or `grid`),
 * which refuses the search-only flags. Throws `UsageError` on a bad value.
 */
export function searchFlags(o: Options): SearchFlags | undefined {
  const search = o.search === undefined ? "grid" : String(o.search).trim();
  if (search.toLowerCase() === "grid") {
    const given = SEARCH_ONLY.find((k) => o[k] !== undefined);
    if (given) {
      throw new UsageError(
        `--${given} is for --search random or tpe (--search grid runs every combination)`,
      );
    }
    if (o.searchWorker !== undefined) {
      throw new UsageError("--search-worker is set by --workers on the processes it starts");
    }
    return undefined;
  }
  const sampler = parseSampler(search);
  if (o.resume !== undefined) {
    throw new UsageError(
      "--resume is for grid runs: rerun the study's command to resume it (finished trials stay)",
    );
  }
  const trials = o.trials ?? 20;
  if (
    typeof trials !== "number" || !Number.isInteger(trials) || trials < 1 || trials > MAX_TRIALS
  ) {
    throw new UsageError(`--trials must be a whole number from 1 to ${MAX_TRIALS}, got ${trials}`);
  }
  const workers = o.workers ?? 1;
  if (typeof workers !== "number" || !Number.isInteger(workers) || workers < 1 || workers > 256) {
    throw new UsageError(`--workers must be a whole number from 1 to 256, got ${workers}`);
  }
  const study = o.study === undefined ? defaultStudyName() : String(o.study);
  checkStudyName(study);
  const workerOf = o.searchWorker === undefined ? undefined : String(o.searchWorker);
  const storage = o.storage === undefined
    ? (workerOf !== undefined ? Deno.env.get(STORAGE_ENV) : undefined)
    : String(o.storage).trim();
  if (storage !== undefined && !/^postgres(ql)?:\/\/[^/\s]/i.test(storage)) {
    // The value is not echoed: it may hold a password.
    throw new UsageError(
      "--storage must be a postgres:// URL (postgres://user:password@host:5432/database); " +
        "leave it out for the SQLite file <out>/study.sqlite",
    );
  }
  if (storage !== undefined) {
    try {
      new URL(storage);
    } catch {
      throw new UsageError(
        "--storage is not a valid postgres:// URL (check the port, and %-encode any @ : / " +
          "in the password)",
      );
    }
  }
  const text = o.grid === undefined ? "" : String(o.grid).trim();
  if (text === "" || text === "none") {
    throw new UsageError(
      `--search ${search} needs the space to search in --grid, e.g. ` +
        `--grid "lr=loguniform(1e-5,1e-2);batch_size=32,64"`,
    );
  }
  return {
    search,
    sampler,
    trials,
    prune: parsePrune(o.prune as string | undefined),
    study,
    storage,
    workers,
    workerOf,
  };
}

/** Values of `d` that stand for its range in the checks: its ends and an inner point. */
function probes(d: Distribution): HValue[] {
  switch (d.kind) {
    case "choice":
      return d.choices;
    case "fixed":
      return [d.value];
    default:
      return [valueAt(d, 0), valueAt(d, 0.37), d.high];
  }
}

/** The highest number of epochs a space allows (its fixed `epochs`, or the top of the range). */
function maxEpochs(space: SearchSpace, base: number): number {
  const d = space.epochs;
  if (!d) return base;
  return Math.max(...probes(d).map(Number).filter(Number.isFinite), 1);
}

function buildPruner(p: PruneFlag, epochs: number): Pruner {
  if (p.kind === "none") return noPruner();
  if (p.kind === "median") {
    return medianPruner({
      warmupEpochs: p.warmup,
      minTrials: p.minTrials,
      among: p.among,
      mode: "max",
    });
  }
  if (p.grace >= epochs) {
    throw new UsageError(
      `--prune asha: grace ${p.grace} must be below --epochs ${epochs} (no rung to stop a trial at)`,
    );
  }
  return ashaPruner({
    gracePeriod: p.grace,
    reductionFactor: p.eta,
    maxEpochs: epochs,
    mode: "max",
  });
}

/**
 * The study definition of an invocation: the space of `--grid` (keys as logged, each one an
 * option of the pipeline whose every probe value passes `check`), the tracked options not
 * searched and `epochs` fixed in it, and the sampler, pruner, seed and trials of the flags.
 */
export function studyDefinition(
  o: Options,
  flags: SearchFlags,
  tracked: string[],
  check: (x: Options) => void,
): StudyDefinition {
  const given = parseSpace(String(o.grid));
  const known = new Set(Object.keys(o));
  const space: SearchSpace = {};
  for (const [k, d] of Object.entries(given)) {
    const key = optionKey(k);
    if (!known.has(key) || NOT_HYPERPARAMETERS.includes(key)) {
      throw new UsageError(`--grid: "${k}" is not a hyper-parameter of this pipeline`);
    }
    const name = hparamName(key);
    if (name in space) throw new UsageError(`--grid: key "${k}" given twice`);
    for (const v of probes(d)) {
      try {
        const x = { ...o, [key]: v };
        checkTraining(x);
        check(x);
      } catch (e) {
        if (!(e instanceof UsageError)) throw e;
        throw new UsageError(`--grid ${k}=${formatDistribution(d)}: ${e.message}`);
      }
    }
    space[name] = d;
  }
  for (const k of [...tracked, "epochs"]) {
    const name = hparamName(k);
    if (!(name in space) && o[k] !== undefined) {
      space[name] = { kind: "fixed", value: o[k] as HValue };
    }
  }
  return {
    space,
    sampler: flags.sampler,
    pruner: buildPruner(flags.prune, maxEpochs(space, o.epochs as number)),
    seed: o.seed as number,
    nTrials: flags.trials,
    direction: "max",
  };
}

/** The keys a study searches (not fixed), in order. */
export function searchedKeys(space: SearchSpace): string[] {
  return Object.keys(space).filter((k) => space[k].kind !== "fixed");
}
