/**
 * What a pipeline's `run` gets back from `planRuns` and hands to `execute`: the plan, one
 * run's spec (its folder, options and the fields `fit` needs), and how the user starts the
 * command again (`launcher`, `resumeCommand`). Shared by the grid (`runs.ts`) and the
 * hyper-parameter search (`search/run_study.ts`).
 */
import { join } from "node:path";
import type { Options } from "./pipeline.ts";
import type { EpochMetrics, HValue } from "../stages/evaluate.ts";
import type { Interrupt } from "./interrupt.ts";
import type { TrialReporter } from "./fit.ts";
import type { RunPluginFields } from "./run_plugins.ts";

/** One run of a grid (or trial of a study): its name, folder and options, and what `fit` needs. */
export interface RunSpec<O extends Options = Options> {
  /** The run's name (`lr=0.001_batch_size=32`, or `trial_0007` in a study). */
  name: string;
  /** The run's folder. */
  dir: string;
  /** The version folder's metrics.csv. */
  csvPath: string;
  /** The run's options: the invocation's, with this run's grid values. */
  options: O;
  /** The hyper-parameters logged for the run (snake_case names). */
  hparams: Record<string, HValue>;
  /** Where the grid stands before this run, in epochs. */
  grid: { epochsDone: number; epochs: number };
  /** The checkpoint to continue from, when the run was started before. */
  resume?: string;
  /** The invocation's stop request (SIGINT/SIGTERM). */
  interrupt: Interrupt;
  /** The fields of `fit`'s options that come from the run: spread them into `fit({…})`. */
  fit: {
    run: string;
    runDir: string;
    csvPath: string;
    hparams: Record<string, HValue>;
    epochs: number;
    resume?: string;
    /** A checkpoint whose weights start the run (`--warm-start`). */
    init?: string;
    grid: { epochsDone: number; epochs: number };
    interrupt: Interrupt;
    /** A study's trial: `fit` reports each epoch to it and stops when told to prune. */
    trial?: TrialReporter;
  } & RunPluginFields;
}

/** What a pipeline tells `planRuns`. */
export interface GridSpec<O extends Options = Options> {
  /** Option names logged as hyper-parameters. */
  tracked: (keyof O & string)[];
  /** The pipeline's own range checks, run on the flags and on every grid combination. */
  check?: (o: O) => void;
}

/** A checked plan of runs; `execute` trains them. */
export interface RunPlan<O extends Options = Options> {
  /** The options in force: the flags, or on resume the run's own restored ones. */
  options: O;
  /** The `--out` folder. */
  out: string;
  /** Set when resuming: the version folder continued. */
  resumeVersion?: string;
  /**
   * Trains every planned run (skipping finished ones on resume); see `runs.ts`.
   * `summary` (e.g. the data's skipped files) prints before the closing best-run lines.
   */
  execute(
    runOne: (r: RunSpec<O>) => Promise<EpochMetrics[]>,
    opts?: { top?: number; summary?: () => string },
  ): Promise<void>;
}

/** How the user runs Deno here: `deno` when it is on PATH, else through npx. */
export function launcher(): string {
  const onPath = (Deno.env.get("PATH") ?? "").split(":").some((d) => {
    try {
      return Deno.statSync(join(d, "deno")).isFile;
    } catch {
      return false;
    }
  });
  return onPath ? "deno" : "npx --yes deno@2.9.6";
}

/** The command that resumes a version folder, as the user would type it. */
export function resumeCommand(pipeline: string, versionDir: string): string {
  return `${launcher()} task pipeline ${pipeline} --resume ${versionDir}`;
}
