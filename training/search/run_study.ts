/**
 * A hyper-parameter search (`--search random|tpe`, flags in `flags.ts`): the plan that
 * `planRuns` returns for a study instead of a grid. Its folders:
 *
 *   <out>/.lock                      held by the invocation (its worker processes run under it)
 *   <out>/study.sqlite               the study's store (or PostgreSQL, `--storage postgres://…`)
 *   <out>/version_N/options.json     the flags, and the study's name and store (URL masked)
 *   <out>/version_N/metrics.csv      one row per trial and epoch, with `trial` and `state`
 *   <out>/version_N/report.html      the whole study: trials, scatters, the best trial
 *   <out>/version_N/trial_0007/      run.json (params, state), options.json, checkpoints, logs
 *
 * One study is one version folder per `--out`: the first invocation of a study makes the
 * next version_N; the same command again (same `--study`, same store) finds that folder by
 * its options.json and goes on: finished trials are never rerun, a released trial resumes
 * from its checkpoint. Flags that differ from the folder's are refused (exit 2), as are
 * a definition that differs from the stored study's. Machines sharing a PostgreSQL study
 * each keep their own folder of the trials they ran; the closing table and the report
 * cover every trial, read from the store.
 *
 * `--workers 1` runs the worker loop (`worker.ts`) in this process; more start worker
 * processes (`children.ts`) and wait. Exit: 0 every trial complete or pruned, 1 a trial
 * failed after its retry (or was left unfinished by a crashed worker), 130/143 stopped by
 * SIGINT/SIGTERM (rerun the command to resume), 2 bad flags before anything ran.
 */
import { checkOutFolder } from "../out_folder.ts";
import { existsSync } from "node:fs";
import { loadedPlugins } from "../plugin_files.ts";
import { Interrupt, InterruptedError } from "../interrupt.ts";
import { acquireLock } from "../lock.ts";
import { type Options, TrainingError, UsageError } from "../pipeline.ts";
import { NoSpaceError, WORKER_NO_SPACE_EXIT, WorkerNoSpaceError } from "../../core/errors.ts";
import { checkTraining } from "../options.ts";
import type { GridSpec, RunPlan, RunSpec } from "../run_spec.ts";
import { launcher } from "../run_spec.ts";
import type { EpochMetrics } from "../../stages/evaluate.ts";
import { BASE_COLUMNS, csvLine, withCsvLock } from "../../stages/log/csv.ts";
import { writeTextAtomic } from "../../stages/atomic.ts";
import {
  findStudyVersion,
  nextVersionDir,
  pipelineFile,
  readSavedOptions,
  writeJsonAtomic,
} from "../session.ts";
import { kebab } from "../pipeline.ts";
import { type SearchFlags, studyDefinition } from "./flags.ts";
import { defaultStudyPath, openSqliteStudy } from "./study_sqlite.ts";
import { defaultWorkerId, type Study, type StudyDefinition } from "./study.ts";
import { studyCsv, work, type WorkerContext } from "./worker.ts";
import { followParent, runWorkers } from "./children.ts";
import {
  localBestEpochs,
  stateCounts,
  studyEnding,
  studyTable,
  writeStudyReport,
} from "./results.ts";
import { formatSpace } from "./space.ts";
import { checkInputPrints, type FilePrint, inputPrints } from "../input_files.ts";

/** Options that may change between invocations of one study (not compared). */
const FREE = ["workers", "searchWorker", "resume", "storage"];

interface Planned {
  options: Options;
  flags: SearchFlags;
  definition: StudyDefinition;
  tracked: string[];
  check: (o: Options) => void;
  /** The model's input files (`--weights`), fingerprinted. */
  inputs: Record<string, FilePrint>;
}

/** Checks a study's flags and space (UsageError, exit 2); `execute` runs it. */
export async function planStudy<O extends Options>(
  o: O,
  spec: GridSpec<O>,
  flags: SearchFlags,
): Promise<RunPlan<O>> {
  const options: Options = { ...o };
  const check = (x: Options) => spec.check?.(x as O);
  checkTraining(options);
  check(options);
  const definition = studyDefinition(options, flags, spec.tracked, check);
  checkOutFolder(String(options.out));
  // The model's files (--weights), recorded with the study's folder and compared on a rerun.
  const inputs = await inputPrints(options);
  const p: Planned = { options, flags, definition, tracked: spec.tracked, check, inputs };
  const found = findStudyVersion(String(options.out), flags.study, await storeName(flags));
  if (found) {
    const saved = (await readSavedOptions(found))?.inputs;
    checkInputPrints(
      saved,
      inputs,
      options,
      `study "${flags.study}" in ${found}`,
      "its trials were",
    );
  }
  return {
    options: options as O,
    out: String(options.out),
    execute: (runOne, opts) =>
      execute(p, runOne as (r: RunSpec) => Promise<EpochMetrics[]>, opts ?? {}),
  };
}

/** How options.json names the study's store (a PostgreSQL URL masked). */
async function storeName(flags: SearchFlags): Promise<string> {
  if (!flags.storage) return "sqlite";
  return (await import("./study_postgres.ts")).maskUrl(flags.storage);
}

/** The store's opener, and how options.json names it (a PostgreSQL URL masked). */
async function store(p: Planned) {
  const out = String(p.options.out), name = p.flags.study, url = p.flags.storage;
  const shown = await storeName(p.flags);
  if (!url) {
    return {
      shown,
      mask: (s: string) => s,
      open: () => openSqliteStudy(defaultStudyPath(out), name, p.definition),
    };
  }
  const pg = await import("./study_postgres.ts");
  return {
    shown,
    mask: pg.maskUrl,
    open: () => pg.openPostgresStudy(url, name, p.definition),
  };
}

/** The options as written to disk: the storage URL masked, no internal flag. */
function shownOptions(o: Options, mask: (s: string) => string): Options {
  const { resume: _r, searchWorker: _w, ...rest } = o;
  if (typeof rest.storage === "string") rest.storage = mask(rest.storage);
  return rest;
}

/** The version folder of the study in `--out`: found again (flags compared) or made. */
async function versionFolder(p: Planned, saved: Options, shown: string): Promise<string> {
  const out = String(p.options.out), name = p.flags.study;
  const found = findStudyVersion(out, name, shown);
  if (found) {
    const prev = (await readSavedOptions(found))?.options ?? {};
    const keys = [...new Set([...Object.keys(prev), ...Object.keys(saved)])];
    for (const k of keys.filter((k) => !FREE.includes(k))) {
      if (JSON.stringify(prev[k] ?? null) !== JSON.stringify(saved[k] ?? null)) {
        throw new UsageError(
          `--${kebab(k)} ${saved[k] ?? "(not given)"} differs from study "${name}"'s ` +
            `${JSON.stringify(prev[k] ?? null)} in ${found}/options.json (a study keeps its ` +
            "flags: rerun with them, or use another --study or --out)",
        );
      }
    }
    console.log(`resuming study "${name}": this machine's trials in ${found}`);
    return found;
  }
  const dir = nextVersionDir(out);
  await Deno.mkdir(dir, { recursive: true });
  await writeJsonAtomic(`${dir}/options.json`, {
    pipeline: pipelineFile(),
    created: new Date().toISOString(),
    options: saved,
    ...(loadedPlugins().length ? { plugins: loadedPlugins() } : {}),
    ...(Object.keys(p.inputs).length ? { inputs: p.inputs } : {}),
    study: { name, storage: shown },
  });
  console.log(`study "${name}": this machine's trials in ${dir}`);
  return dir;
}

/** The command again, as the user typed it (the URL's password masked). */
function rerunCommand(mask: (s: string) => string): string {
  const q = (a: string) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, "'\\''")}'`);
  return `${launcher()} task pipeline ${Deno.args.map((a) => q(mask(a))).join(" ")}`;
}

async function execute(
  p: Planned,
  runOne: (r: RunSpec) => Promise<EpochMetrics[]>,
  opts: { top?: number; summary?: () => string },
): Promise<void> {
  const s = await store(p);
  const saved = shownOptions(p.options, s.mask);
  const interrupt = new Interrupt();
  const ctx = (study: Study, versionDir: string): WorkerContext => ({
    study,
    versionDir,
    options: saved,
    tracked: p.tracked,
    check: p.check,
    runOne,
    interrupt,
    worker: defaultWorkerId(),
    studyInfo: { name: p.flags.study, storage: s.shown },
    title: `${pipelineFile()} study ${p.flags.study}`,
  });
  if (p.flags.workerOf !== undefined) {
    // A worker process of a parent that holds the lock and made the folder.
    const unlisten = interrupt.listen();
    followParent(interrupt);
    const study = await s.open();
    try {
      const r = await work(ctx(study, p.flags.workerOf));
      // A full disk first (whatever stopped the worker): the parent tells how to go on.
      if (r.noSpace) throw new WorkerNoSpaceError(r.noSpace);
      if (r.interrupted) {
        throw new InterruptedError(interrupt.signal!, `worker stopped by ${interrupt.signal}`);
      }
      if (r.failed.length) throw new TrainingError(`trial(s) ${r.failed.join(", ")} failed`);
    } finally {
      unlisten();
      await study.close();
    }
    return;
  }
  const lock = acquireLock(String(p.options.out));
  let study: Study | undefined;
  try {
    study = await s.open();
    const versionDir = await versionFolder(p, saved, s.shown);
    const csv = studyCsv(versionDir);
    await withCsvLock(csv, async () => {
      const header = csvLine([...BASE_COLUMNS, "trial", "state"]) + "\n";
      if (!existsSync(csv)) await writeTextAtomic(csv, header);
    });
    const d = study.definition;
    console.log(
      `study "${study.name}" in ${study.where}: ${d.nTrials} trial(s), ${p.flags.search} ` +
        `search, pruner ${d.pruner.spec.kind}, seed ${d.seed}, workers ${p.flags.workers}\n` +
        `  space: ${
          formatSpace(Object.fromEntries(
            Object.entries(d.space).filter(([, x]) => x.kind !== "fixed"),
          ))
        }`,
    );
    const before = await study.trials();
    const left = before.filter((t) => t.state === "queued" || t.state === "running").length;
    if (!left) console.log(`every trial of the study has ended (${stateCounts(before)})`);
    let signal = interrupt.signal;
    let crashed: string[] = [];
    if (p.flags.workers === 1 || !left) {
      const unlisten = interrupt.listen();
      try {
        const r = await work(ctx(study, versionDir));
        if (r.noSpace) {
          const why = `${r.noSpace} (a rerun resumes the trial; free some space)`;
          throw new NoSpaceError(why, rerunCommand(s.mask));
        }
      } finally {
        unlisten();
      }
      signal = interrupt.signal;
    } else {
      const n = Math.min(p.flags.workers, left);
      console.log(`starting ${n} worker process(es)`);
      const exits = await runWorkers(n, versionDir, p.flags.storage, interrupt);
      // A worker stopped by a full disk: as one process would end (no report: no space).
      const full = exits.find((e) => e.code === WORKER_NO_SPACE_EXIT);
      if (full) {
        const why = full.last?.replace(/^training failed: /, "") ??
          `no space left on device (worker w${full.worker})`;
        throw new NoSpaceError(
          `${why} (a rerun resumes the trial; free some space)`,
          rerunCommand(s.mask),
        );
      }
      const stopped = exits.find((e) => e.code === 130 || e.code === 143);
      signal = interrupt.signal ??
        (stopped ? (stopped.code === 130 ? "SIGINT" : "SIGTERM") : undefined);
      crashed = exits.filter((e) => ![0, 1, 130, 143].includes(e.code))
        .map((e) => `w${e.worker} exited ${e.code}`);
    }
    // The data summary is of this process's decoding: none when worker processes trained.
    const summary = p.flags.workers === 1 ? opts.summary : undefined;
    await finish(study, versionDir, { top: opts.top, summary, signal, crashed, mask: s.mask });
  } finally {
    await study?.close();
    lock.release();
  }
}

/** The closing output of a study, and how the invocation ends (see the module comment). */
async function finish(
  study: Study,
  versionDir: string,
  o: {
    top?: number;
    summary?: () => string;
    signal?: "SIGINT" | "SIGTERM";
    crashed: string[];
    mask: (s: string) => string;
  },
): Promise<void> {
  if (o.summary) console.log(`\n${o.summary()}`);
  const trials = await study.trials();
  const top = o.top ?? 5;
  const title = `${pipelineFile()} study ${study.name}`;
  const report = await writeStudyReport(versionDir, study, title);
  const done = trials.filter((t) => t.state === "complete" || t.state === "pruned").length;
  console.log(
    `\nstudy "${study.name}": ${trials.length} trial(s): ${stateCounts(trials)}` +
      (done ? `; best ${Math.min(top, done)} finished by test accuracy, every worker's:` : ""),
  );
  const epochs = await localBestEpochs(versionDir, trials);
  if (done) console.log(studyTable(trials, study.definition.space, top, epochs));
  console.log(`metrics: ${studyCsv(versionDir)}`);
  console.log(studyEnding(versionDir, trials, study.definition.space, report, epochs));
  const open = trials.filter((t) => t.state === "queued" || t.state === "running");
  if (o.signal) {
    throw new InterruptedError(
      o.signal,
      `study "${study.name}" stopped by ${o.signal} with ${open.length} trial(s) left ` +
        `(released: they resume from their checkpoints)\nresume with: ${rerunCommand(o.mask)}`,
    );
  }
  const failed = trials.filter((t) => t.state === "failed").map((t) => t.number);
  if (failed.length) {
    throw new TrainingError(
      `study "${study.name}": trial(s) ${failed.join(", ")} failed after their retry ` +
        `(see their run.json)`,
    );
  }
  if (open.length) {
    throw new TrainingError(
      `study "${study.name}": ${open.length} trial(s) unfinished` +
        (o.crashed.length ? ` (${o.crashed.join(", ")})` : "") +
        `; rerun the same command to go on: ${rerunCommand(o.mask)}`,
    );
  }
}
