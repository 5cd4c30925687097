/**
 * What every training pipeline shares: the common flags and the grid of runs.
 *
 * An invocation plans its runs first (`planRuns`: flags, grid values and a resume target
 * checked, nothing started), the pipeline then checks its data, and `execute` takes the
 * output folder's lock and trains each run of the grid into its own folder:
 *
 *   <out>/.lock                      held while an invocation runs (exit 3 for a second one)
 *   <out>/version_N/options.json     the invocation's options (what --resume restores)
 *   <out>/version_N/metrics.csv      one row per run and epoch, this invocation's runs only
 *   <out>/version_N/<run>/           checkpoints, logs, summary, report, model of one run
 *
 * A new invocation into a used `--out` gets the next `version_N` (as Lightning numbers its
 * logs), so nothing ever appends to another invocation's rows.
 *
 * With `--search random` or `tpe` the plan is a study instead (`search/run_study.ts`):
 * trials drawn from `--grid`'s space, shared by workers through a study store.
 */
import { join } from "node:path";
import { type Options, UsageError } from "./pipeline.ts";
import { NoSpaceError } from "../core/errors.ts";
import { isNoSpace, WriteError } from "../stages/atomic.ts";
import { type GridSpec, launcher, resumeCommand, type RunPlan, type RunSpec } from "./run_spec.ts";
import { checkTraining, hparamName, optionKey } from "./options.ts";
import type { EpochMetrics, HValue } from "../stages/evaluate.ts";
import { bestRows, bestTable, expandGrid, type Grid, parseGrid, type Row } from "./grid.ts";
import { writeGridReport } from "../stages/log/grid_report.ts";
import { parseSpace, spaceToGrid } from "./search/space.ts";
import { readCsv } from "../stages/log/csv.ts";
import { Interrupt, InterruptedError } from "./interrupt.ts";
import { acquireLock } from "./lock.ts";
import { checkOutFolder } from "./out_folder.ts";
import {
  nextVersionDir,
  pipelineFile,
  readRunStatus,
  readSavedOptions,
  resolveResume,
  restoreOptions,
  type RunStatus,
  writeJsonAtomic,
  writeRunStatus,
} from "./session.ts";
import { LAST } from "./checkpoint.ts";
import { hasDistributionSyntax, NOT_HYPERPARAMETERS, searchFlags } from "./search/flags.ts";
import { planStudy } from "./search/run_study.ts";
import { loadedPlugins, loadPlugins } from "./plugin_files.ts";
import { isOff } from "./choices.ts";
import { runPlugins } from "./run_plugins.ts";
import { checkInputPrints, type FilePrint, inputPrints } from "./input_files.ts";

export { launcher, resumeCommand };
export type { GridSpec, RunPlan, RunSpec };

interface Planned {
  name: string;
  options: Options;
  hparams: Record<string, HValue>;
}

function parseGridOption(text: string | undefined): Grid {
  if (text === undefined || text.trim() === "" || text.trim() === "none") return {};
  // A distribution (`lr=loguniform(1e-5,1e-2)`) is for --search random or tpe: refused here.
  if (hasDistributionSyntax(text)) return spaceToGrid(parseSpace(text.trim()));
  return parseGrid(text.trim());
}

/**
 * Checks the flags, the grid (every combination passes the same range checks as the flags)
 * and, with `--resume`, finds the run and restores its options. Throws UsageError (exit 2)
 * before anything is started.
 */
export async function planRuns<O extends Options>(
  o: O,
  spec: GridSpec<O>,
): Promise<RunPlan<O>> {
  // --search random/tpe: a study (search/run_study.ts); the grid below otherwise.
  const search = searchFlags(o);
  if (search) return await planStudy(o, spec, search);
  let options: Options = { ...o };
  let resumeVersion: string | undefined;
  let only: string | undefined;
  let savedInputs: Record<string, FilePrint> | undefined;
  if (o.resume !== undefined) {
    const target = await resolveResume(String(o.resume));
    // The run's --plugin files come back first: its options may name their plugins.
    const saved = await readSavedOptions(target.versionDir);
    await loadPlugins(saved?.plugins ?? [], `--resume: ${target.versionDir}/options.json`);
    savedInputs = saved?.inputs;
    options = await restoreOptions(o, target);
    if (options.search !== undefined && options.search !== "grid") {
      throw new UsageError(
        `--resume: ${target.versionDir} holds trials of a study: rerun the study's command to ` +
          "resume it (finished trials are kept)",
      );
    }
    resumeVersion = target.versionDir;
    only = target.run;
  }
  const check = (x: Options, where: string) => {
    try {
      checkTraining(x);
      spec.check?.(x as O);
    } catch (e) {
      if (e instanceof UsageError && where) throw new UsageError(`${where}: ${e.message}`);
      throw e;
    }
  };
  check(options, "");
  const grid = parseGridOption(options.grid as string | undefined);
  const known = new Set(Object.keys(options));
  for (const k of Object.keys(grid)) {
    const key = optionKey(k);
    if (!known.has(key) || NOT_HYPERPARAMETERS.includes(key)) {
      throw new UsageError(`--grid: "${k}" is not a hyper-parameter of this pipeline`);
    }
  }
  const tracked = [...spec.tracked, ...usedChoices(options, grid, spec.tracked)];
  const base: Record<string, HValue> = {};
  for (const k of tracked) base[hparamName(k)] = options[k] as HValue;
  // Keys as logged (snake_case) name the run folders: lr=0.001_batch_size=32.
  const combos = expandGrid(
    Object.fromEntries(Object.entries(grid).map(([k, v]) => [hparamName(optionKey(k)), v])),
    base,
  );
  const planned: Planned[] = combos.map((c) => {
    const opts: Options = { ...options };
    for (const [k, v] of Object.entries(c.params)) opts[optionKey(k)] = v;
    const label = Object.keys(grid).length ? `--grid run ${c.name}` : "";
    check(opts, label);
    const hparams = Object.fromEntries(tracked.map((k) => [hparamName(k), opts[k] as HValue]));
    return { name: c.name, options: opts, hparams };
  });
  if (only && !planned.some((p) => p.name === only)) {
    throw new UsageError(`--resume: ${only} is not a run of ${resumeVersion}`);
  }
  const runs = only ? planned.filter((p) => p.name === only) : planned;
  const out = String(options.out);
  checkOutFolder(out);
  // The model's files (--weights): the ones the resumed run was trained on, or recorded.
  const inputs = await inputPrints(options);
  if (resumeVersion) checkInputPrints(savedInputs, inputs, options, `--resume: ${resumeVersion}`);
  return {
    options: options as O,
    out,
    resumeVersion,
    execute: (runOne, top) =>
      execute(
        { options, out, resumeVersion, runs, all: planned, inputs },
        runOne as (r: RunSpec) => Promise<EpochMetrics[]>,
        top,
      ),
  };
}

async function execute(
  p: {
    options: Options;
    out: string;
    resumeVersion?: string;
    runs: Planned[];
    all: Planned[];
    inputs: Record<string, FilePrint>;
  },
  runOne: (r: RunSpec) => Promise<EpochMetrics[]>,
  opts: { top?: number; summary?: () => string } = {},
): Promise<void> {
  const top = opts.top ?? 5;
  const lock = acquireLock(p.out);
  const interrupt = new Interrupt();
  const unlisten = interrupt.listen();
  try {
    const versionDir = p.resumeVersion ?? nextVersionDir(p.out);
    if (!p.resumeVersion) {
      await Deno.mkdir(versionDir, { recursive: true });
      const { resume: _r, ...saved } = p.options;
      const plugins = loadedPlugins();
      await writeJsonAtomic(join(versionDir, "options.json"), {
        pipeline: pipelineFile(),
        created: new Date().toISOString(),
        options: saved,
        ...(plugins.length ? { plugins } : {}),
        ...(Object.keys(p.inputs).length ? { inputs: p.inputs } : {}),
      });
      console.log(`runs of this invocation: ${versionDir}`);
    } else console.log(`resuming ${versionDir}`);
    const csvPath = join(versionDir, "metrics.csv");
    const epochs = p.options.epochs as number;
    const names = p.all.map((r) => r.name);
    for (const r of p.runs) {
      const i = p.all.indexOf(r);
      const dir = join(versionDir, r.name);
      const status = await readRunStatus(dir);
      const runEpochs = r.options.epochs as number;
      if (status && skip(status, runEpochs)) {
        console.log(`${r.name}: finished (${status.epochsDone} epochs), skipped`);
        continue;
      }
      if (interrupt.requested) break;
      const resume = status ? await exists(join(dir, LAST)) : undefined;
      const started = status?.started ?? new Date().toISOString();
      await writeRunStatus(dir, { ...baseStatus(r, started), state: "running" });
      const grid = { epochsDone: i * epochs, epochs: p.all.length * epochs };
      const fitFields = {
        run: r.name,
        runDir: dir,
        csvPath,
        hparams: r.hparams,
        epochs: runEpochs,
        resume,
        init: r.options.warmStart as string | undefined,
        grid,
        interrupt,
        ...runPlugins(r.options),
      };
      let history: EpochMetrics[];
      try {
        history = await runOne({
          name: r.name,
          dir,
          csvPath,
          options: r.options,
          hparams: r.hparams,
          grid,
          resume,
          interrupt,
          fit: fitFields,
        });
      } catch (e) {
        const state = e instanceof InterruptedError ? "interrupted" : "failed";
        // On a full disk this write fails too: run.json then still says "running", which a
        // resume takes over like a killed run's; the error that ended the run is the one told.
        await writeRunStatus(dir, { ...baseStatus(r, started), state, error: String(e) })
          .catch(() => {});
        if (e instanceof InterruptedError) {
          throw new InterruptedError(
            e.signal,
            `${e.message}\nresume with: ${resumeCommand(pipelineFile(), versionDir)}`,
          );
        }
        if (isNoSpace(e)) {
          const kept = await exists(join(dir, LAST))
            ? "the run's last checkpoint is kept"
            : "no checkpoint yet: the run starts over";
          const what = e instanceof WriteError
            ? e.message
            : `no space left on device (${(e as Error).message})`;
          throw new NoSpaceError(
            `${what} (${kept}; free some space)`,
            resumeCommand(pipelineFile(), versionDir),
            { cause: e },
          );
        }
        throw e;
      }
      const last = history.at(-1);
      await writeGridReport(versionDir, `${pipelineFile()} ${versionDir}`, names);
      await writeRunStatus(dir, {
        ...baseStatus(r, started),
        state: "finished",
        epochsDone: last?.epoch ?? 0,
        stoppedEarly: (last?.epoch ?? 0) < runEpochs,
        finished: new Date().toISOString(),
      });
    }
    if (interrupt.requested) {
      throw new InterruptedError(
        interrupt.signal!,
        `interrupted by ${interrupt.signal} between runs\nresume with: ${
          resumeCommand(pipelineFile(), versionDir)
        }`,
      );
    }
    if (opts.summary) console.log(`\n${opts.summary()}`);
    const rows = await readCsv(csvPath).catch(() => [] as Row[]);
    if (rows.length) {
      const k = Math.min(top, rows.length);
      console.log(`\nbest ${k} row(s) by TestAccuracy, over ${p.all.length} run(s):`);
      console.log(bestTable(rows as Row[], top, "TestAccuracy"));
      console.log(`metrics: ${csvPath}`);
      const report = await writeGridReport(versionDir, `${pipelineFile()} ${versionDir}`, names);
      console.log(ending(bestRows(rows as Row[], 1)[0], versionDir, report));
    }
  } finally {
    unlisten();
    lock.release();
  }
}

/** The last lines of an invocation: the best run, its figures, where to look, what to try. */
function ending(best: Row, versionDir: string, gridReport: string): string {
  const dir = join(versionDir, String(best.run));
  const pct = (v: unknown) => `${(100 * Number(v)).toFixed(2)}%`;
  const model = join(dir, "model.onnx");
  const hasModel = (() => {
    try {
      return Deno.statSync(model).isFile;
    } catch {
      return false;
    }
  })();
  return [
    "",
    `best run: ${best.run}, epoch ${best.epoch}: test accuracy ${pct(best.TestAccuracy)}, ` +
    `test loss ${Number(best.TestLoss).toFixed(4)}`,
    `  report:      ${join(dir, "report.html")}`,
    `  grid report: ${gridReport}`,
    ...(hasModel
      ? [
        `  model:       ${model}`,
        `  try:         ${launcher()} task predict ${dir} <images or folders>`,
      ]
      : []),
  ].join("\n");
}

/** The shared plugin choices a pipeline's `tracked` lacks, logged when this invocation uses them. */
const CHOICES = ["pooling", "regularizer", "earlyStopping"];

/** Choice options that the invocation uses (set, or in the grid): logged as hyper-parameters. */
function usedChoices(o: Options, grid: Grid, tracked: readonly string[]): string[] {
  const inGrid = new Set(Object.keys(grid).map(optionKey));
  return CHOICES.filter((k) =>
    k in o && !tracked.includes(k) && (inGrid.has(k) || !isOff(o[k] as string | undefined))
  );
}

function baseStatus(r: Planned, started: string): RunStatus {
  return { name: r.name, hparams: r.hparams, state: "running", started, epochsDone: 0 };
}

/** A finished run is skipped on resume unless `--epochs` now asks for more (and it ran all). */
function skip(s: RunStatus, epochs: number): boolean {
  return s.state === "finished" && (s.stoppedEarly === true || s.epochsDone >= epochs);
}

async function exists(path: string): Promise<string | undefined> {
  try {
    await Deno.stat(path);
    return path;
  } catch {
    return undefined;
  }
}
