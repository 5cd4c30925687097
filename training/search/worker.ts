/**
 * A study's worker loop: take over trials of dead workers (`reapDead`: a worker process of
 * this host that no longer exists, or heartbeats older than the stale time), claim the next trial, train it into its folder of the version
 * folder (`trial_0007/`: run.json with its configuration, options.json, checkpoints, logs),
 * report every epoch's test accuracy (the pruner may stop it there), finish it; until no
 * trial is left. While other workers still run trials it waits, so a trial whose worker
 * dies is taken over. A stop (SIGINT/SIGTERM) releases the trial in hand: its checkpoint
 * resumes it when this machine claims it again, another machine restarts it.
 *
 * Every epoch lands in the version folder's metrics.csv (shared by the processes of this
 * machine: written under its lock) with the trial's number and state, which is set again
 * on all its rows when the trial ends. A trial that throws is queued again once (`fail`),
 * except for bad options or a diverging loss (`UsageError`, `TrainingError`: failed at
 * once, a retry would do the same). A full disk releases the trial, as a stop does, and
 * ends the loop (`noSpace`): every trial would meet it, and none is lost to it.
 *
 * The stale time is 60 s (heartbeats every tenth of it); `WEBGPU_TRAIN_STUDY_STALE_MS`
 * changes it. A waiting worker looks at the store every 2 s at most, and a dead process of
 * this host is known at once (its pid is gone), so only workers of other hosts wait out the
 * stale time.
 */
import { runPlugins } from "../run_plugins.ts";
import { join } from "node:path";
import { type Options, TrainingError, UsageError } from "../pipeline.ts";
import type { EpochMetrics, HValue } from "../../stages/evaluate.ts";
import { appendCsvRow, metricsRow, updateCsvRows, withCsvLock } from "../../stages/log/csv.ts";
import { bestEpoch } from "../../stages/log/summary.ts";
import { checkTraining, hparamName, optionKey } from "../options.ts";
import type { RunSpec } from "../run_spec.ts";
import type { TrialReporter } from "../fit.ts";
import { type Interrupt, InterruptedError } from "../interrupt.ts";
import { LAST } from "../checkpoint.ts";
import { isNoSpace } from "../../stages/atomic.ts";
import {
  pipelineFile,
  readRunStatus,
  type RunStatus,
  writeJsonAtomic,
  writeRunStatus,
} from "../session.ts";
import {
  deadLocalWorker,
  keepAlive,
  StaleTrialError,
  type Study,
  type Trial,
  type Verdict,
} from "./study.ts";
import { searchedKeys, STUDY_METRIC } from "./flags.ts";
import { trialName, writeStudyReport } from "./results.ts";

/** The environment variable that sets the stale time of heartbeats, in milliseconds. */
export const STALE_ENV = "WEBGPU_TRAIN_STUDY_STALE_MS";

/** A worker silent this long has its trial taken over (ms). */
export function staleMs(): number {
  const v = Number(Deno.env.get(STALE_ENV));
  return Number.isFinite(v) && v > 0 ? v : 60_000;
}

/** What a worker needs. */
export interface WorkerContext {
  study: Study;
  /** This machine's version folder of the study. */
  versionDir: string;
  /** The invocation's options, the base of every trial's (storage masked). */
  options: Options;
  /** Option names logged as hyper-parameters. */
  tracked: string[];
  /** The pipeline's range checks. */
  check: (o: Options) => void;
  runOne: (r: RunSpec) => Promise<EpochMetrics[]>;
  interrupt: Interrupt;
  /** This worker's id (`host:pid`). */
  worker: string;
  /** What options.json records of the study. */
  studyInfo: { name: string; storage: string };
  /** The report's title. */
  title: string;
  log?: (line: string) => void;
}

/** How a worker's loop ended. */
export interface WorkerResult {
  /** Trials this worker ended (any final state). */
  ran: number;
  /** Trials that ended failed here. */
  failed: number[];
  /** Stopped by a signal. */
  interrupted: boolean;
  /** Stopped by a full disk: what could not be written. */
  noSpace?: string;
}

type Outcome = "complete" | "pruned" | "failed" | "retry" | "interrupted" | "lost" | "nospace";

/** The version folder's metrics.csv: one row per trial and epoch. */
export function studyCsv(versionDir: string): string {
  return join(versionDir, "metrics.csv");
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

const sameParams = (a?: Record<string, HValue>, b?: Record<string, HValue>) =>
  JSON.stringify(a ?? null) === JSON.stringify(b ?? null);

/** Runs the worker loop until no trial is left or a stop is asked for. */
export async function work(ctx: WorkerContext): Promise<WorkerResult> {
  const log = ctx.log ?? console.log;
  const stale = staleMs(), beat = Math.max(50, Math.round(stale / 10));
  const result: WorkerResult = { ran: 0, failed: [], interrupted: false };
  let waiting = false;
  await settleLeftovers(ctx, log);
  while (!ctx.interrupt.requested) {
    for (const r of await ctx.study.reapDead(stale, deadLocalWorker)) {
      log(
        `trial ${r.number}: worker ${r.worker} is gone; its attempt failed, ` +
          (r.requeued ? "the trial is queued again" : "its second: the trial failed"),
      );
      await markDead(ctx, r.number, r.worker, r.requeued);
    }
    const t = await ctx.study.claim(ctx.worker);
    if (!t) {
      const open = (await ctx.study.trials()).filter((x) =>
        x.state === "running" || x.state === "queued"
      );
      if (!open.length) break;
      if (!waiting) {
        log(
          `${open.length} trial(s) still running on other workers: waiting (a worker silent ` +
            `for ${stale / 1000}s has its trial taken over)`,
        );
      }
      waiting = true;
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        new Promise((r) => (timer = setTimeout(r, Math.min(beat, 2000)))),
        ctx.interrupt.wait(),
      ]);
      clearTimeout(timer);
      continue;
    }
    waiting = false;
    if (ctx.interrupt.requested) {
      await ctx.study.release(t);
      break;
    }
    const outcome = await runTrial(ctx, t, beat, log, (why) => (result.noSpace = why));
    if (outcome === "interrupted" || outcome === "nospace") break;
    if (outcome !== "retry" && outcome !== "lost") result.ran++;
    if (outcome === "failed") result.failed.push(t.number);
  }
  result.interrupted = ctx.interrupt.requested;
  return result;
}

/**
 * Marks failed the attempts this machine's folder still shows running whose trial has
 * since ended elsewhere: a worker killed here whose trial another machine's worker took
 * over (that worker could not reach this folder). Only trials in a final state: no worker
 * claims those again, so nothing here is about to write the folder.
 */
async function settleLeftovers(ctx: WorkerContext, log: (line: string) => void): Promise<void> {
  for (const t of await ctx.study.trials()) {
    if (t.state !== "complete" && t.state !== "pruned" && t.state !== "failed") continue;
    const name = trialName(t.number), dir = join(ctx.versionDir, name);
    const s = await readRunStatus(dir).catch(() => undefined);
    if (!s || s.state !== "running" || !s.worker || s.worker === t.worker) continue;
    const error = `worker ${s.worker} is gone; the trial ended ${t.state} with worker ${t.worker}`;
    await writeRunStatus(dir, { ...s, state: "failed", error, finished: new Date().toISOString() });
    const csv = studyCsv(ctx.versionDir);
    await withCsvLock(csv, () => updateCsvRows(csv, "run", name, { state: "failed" }));
    log(`${name}: the attempt of ${s.worker} here marked failed (${error})`);
  }
}

/** Marks a dead worker's attempt failed in this machine's folder, when it ran here. */
async function markDead(ctx: WorkerContext, n: number, worker: string, requeued: boolean) {
  const dir = join(ctx.versionDir, trialName(n));
  const s = await readRunStatus(dir).catch(() => undefined);
  if (!s || s.state !== "running" || s.worker !== worker) return;
  const error = `worker ${worker} is gone` +
    (requeued ? " (the trial was queued again)" : "");
  await writeRunStatus(dir, { ...s, state: "failed", error, finished: new Date().toISOString() });
  const csv = studyCsv(ctx.versionDir);
  await withCsvLock(csv, () => updateCsvRows(csv, "run", trialName(n), { state: "failed" }));
}

/** Trains one claimed trial and ends its claim; what became of it. */
async function runTrial(
  ctx: WorkerContext,
  t: Trial,
  beat: number,
  log: (line: string) => void,
  noSpace: (why: string) => void,
): Promise<Outcome> {
  const name = trialName(t.number), dir = join(ctx.versionDir, name);
  const csv = studyCsv(ctx.versionDir);
  const options: Options = { ...ctx.options };
  for (const [k, v] of Object.entries(t.params)) options[optionKey(k)] = v;
  const searched = searchedKeys(ctx.study.definition.space);
  const hparams: Record<string, HValue> = {};
  for (const k of ctx.tracked) hparams[hparamName(k)] = options[k] as HValue;
  for (const k of searched) hparams[k] = t.params[k];
  const started = new Date().toISOString();
  const status: RunStatus = {
    name,
    hparams,
    state: "running",
    started,
    epochsDone: 0,
    trial: t.number,
    params: t.params,
    worker: t.worker,
    attempt: t.attempt,
  };
  const setState = (state: string) =>
    withCsvLock(csv, () => updateCsvRows(csv, "run", name, { state }));
  const shown = searched.map((k) => `${k}=${t.params[k]}`).join(" ");
  try {
    checkTraining(options);
    ctx.check(options);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    await ctx.study.finish(t, "failed");
    await writeRunStatus(dir, { ...status, state: "failed", error: e.message });
    log(`${name}: failed: ${e.message}`);
    return "failed";
  }
  const prev = await readRunStatus(dir).catch(() => undefined);
  const ckpt = join(dir, LAST);
  const resume = prev && sameParams(prev.params, t.params) && await exists(ckpt) ? ckpt : undefined;
  try {
    await Deno.mkdir(dir, { recursive: true });
    await writeJsonAtomic(join(dir, "options.json"), {
      pipeline: pipelineFile(),
      created: started,
      options,
      study: ctx.studyInfo,
      trial: t.number,
      params: t.params,
    });
    await writeRunStatus(dir, status);
  } catch (e) {
    if (!isNoSpace(e)) throw e;
    return await failed(ctx, t, e, { status, setState, log, noSpace });
  }
  log(
    `${name}: ${resume ? "resuming from its checkpoint" : "training"}: ${shown} ` +
      `(worker ${t.worker}, attempt ${t.attempt})`,
  );
  const alive = keepAlive(ctx.study, t, beat, {
    onLost: () => log(`${name}: the study gave this trial to another worker (heartbeat stale)`),
  });
  let verdict = "continue" as Verdict;
  const trial: TrialReporter = {
    report: async (m) => {
      const row = { ...metricsRow(m), trial: t.number, state: "running" };
      await withCsvLock(csv, () => appendCsvRow(csv, row));
      verdict = await ctx.study.report(t, m.epoch, m.test.accuracy);
      return verdict;
    },
  };
  const epochs = options.epochs as number;
  const grid = { epochsDone: t.number * epochs, epochs: ctx.study.definition.nTrials * epochs };
  let history: EpochMetrics[];
  try {
    history = await ctx.runOne({
      name,
      dir,
      csvPath: join(dir, "metrics.csv"),
      options,
      hparams,
      grid,
      resume,
      interrupt: ctx.interrupt,
      fit: {
        run: name,
        runDir: dir,
        csvPath: join(dir, "metrics.csv"),
        hparams,
        epochs,
        resume,
        init: options.warmStart as string | undefined,
        grid,
        interrupt: ctx.interrupt,
        trial,
        ...runPlugins(options),
      },
    });
  } catch (e) {
    return await failed(ctx, t, e, { status, setState, log, noSpace });
  } finally {
    alive.stop();
  }
  const state = verdict === "prune" ? "pruned" : "complete";
  const best = history.length ? bestEpoch(history, STUDY_METRIC) : undefined;
  const value = best ? best.test.accuracy : NaN;
  try {
    await ctx.study.finish(t, state, value);
  } catch (e) {
    if (!(e instanceof StaleTrialError)) throw e;
    log(`${name}: trained, but the study gave it to another worker meanwhile; not recorded`);
    return "lost";
  }
  await setState(state);
  const last = history.at(-1)?.epoch ?? 0;
  await writeRunStatus(dir, {
    ...status,
    state,
    epochsDone: last,
    stoppedEarly: last < epochs,
    finished: new Date().toISOString(),
    value,
  });
  await writeStudyReport(ctx.versionDir, ctx.study, ctx.title).catch((e) =>
    log(`${name}: the study report was not written: ${(e as Error).message}`)
  );
  log(
    `${name}: ${state} after epoch ${last}: test accuracy ${(100 * value).toFixed(2)}% ` +
      `(best epoch ${best?.epoch ?? "-"})`,
  );
  return state;
}

/** Ends the claim of a trial whose training threw. */
async function failed(
  ctx: WorkerContext,
  t: Trial,
  e: unknown,
  h: {
    status: RunStatus;
    setState: (s: string) => Promise<number>;
    log: (line: string) => void;
    noSpace: (why: string) => void;
  },
): Promise<Outcome> {
  const dir = join(ctx.versionDir, h.status.name);
  const msg = e instanceof Error ? e.message : String(e);
  const ended = new Date().toISOString();
  if (e instanceof StaleTrialError) {
    // The folder may be the new claimer's now (a worker of this machine): leave it.
    h.log(`${h.status.name}: the study gave this trial to another worker; dropped here`);
    return "lost";
  }
  if (isNoSpace(e)) {
    // A SQLite study on the same full disk cannot take the trial back: a rerun then takes
    // it over as a dead worker's, and resumes it from its checkpoint all the same.
    const released = await ctx.study.release(t).then(() => true, (x) => {
      if (x instanceof StaleTrialError) return false;
      h.log(`${h.status.name}: not released (${(x as Error).message}); a rerun takes it over`);
      return false;
    });
    await h.setState("interrupted").catch(() => 0);
    await writeRunStatus(dir, { ...h.status, state: "interrupted", error: msg }).catch(() => {});
    h.log(`${h.status.name}: ${msg}${released ? "; released to the study" : ""}`);
    h.noSpace(msg);
    return "nospace";
  }
  if (e instanceof InterruptedError) {
    await ctx.study.release(t).catch((x) => {
      if (!(x instanceof StaleTrialError)) throw x;
    });
    await h.setState("interrupted");
    await writeRunStatus(dir, { ...h.status, state: "interrupted", error: msg.split("\n")[0] });
    h.log(`${h.status.name}: interrupted; released to the study (a rerun resumes it)`);
    return "interrupted";
  }
  const final = e instanceof UsageError || e instanceof TrainingError;
  let requeued = false;
  try {
    if (final) await ctx.study.finish(t, "failed");
    else requeued = await ctx.study.fail(t);
  } catch (x) {
    if (!(x instanceof StaleTrialError)) throw x;
    return "lost";
  }
  await h.setState("failed");
  await writeRunStatus(dir, { ...h.status, state: "failed", error: msg, finished: ended });
  h.log(
    `${h.status.name}: failed: ${msg.split("\n")[0]}` +
      (requeued ? " (queued again for one more attempt)" : ""),
  );
  return requeued ? "retry" : "failed";
}
