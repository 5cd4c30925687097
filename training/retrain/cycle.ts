/**
 * One unattended retraining cycle against a registry (see registry.ts for its folders):
 *
 *   lock → fingerprint the training data (skip when unchanged since the last trained
 *   cycle) → train a candidate with the pipeline (warm-started from the champion unless
 *   `--from-scratch`; a cycle that was killed resumes its candidate) → evaluate candidate
 *   and champion on the same fixed hold-out → promote atomically when the gate passes →
 *   retention → history.
 *
 * Each outcome is one line on stdout and one history record; the exit code says what
 * happened (0 promoted, kept or skipped; 1 training failed; 2 bad input; 3 lock held;
 * 130/143 interrupted, resumed by the next cycle). A full disk ends a cycle with 1, recorded
 * as interrupted (when the history can still be written), and the next cycle resumes it.
 */
import { hostname } from "node:os";
import { resolve } from "node:path";
import { givenOptions, type Options, parseOptions, type Pipeline } from "../pipeline.ts";
import { NoSpaceError, UsageError } from "../../core/errors.ts";
import { openImageDataset } from "../../stages/load.ts";
import { InterruptedError } from "../interrupt.ts";
import { checkTraining } from "../options.ts";
import type { RetrainArgs } from "./args.ts";
import { evaluateRun, type Holdout, openHoldout } from "./holdout.ts";
import {
  candidateDir,
  candidateId,
  championId,
  fingerprint,
  retain,
  runDirOf,
  setChampion,
} from "./registry.ts";
import type { CycleRecord, Figures, RetrainStore } from "./store.ts";

/** What the cycle needs besides its arguments. */
export interface CycleContext {
  args: RetrainArgs;
  pipeline: Pipeline;
  store: RetrainStore;
  log?: (line: string) => void;
}

/** Everything checked before the lock is taken: the pipeline's options, data and hold-out. */
export interface CyclePlan {
  options: Options;
  dataRoot: string;
  trainFiles: Parameters<typeof fingerprint>[1];
  holdout: Holdout;
}

/** Checks the pipeline flags, the data folder and the hold-out (exit 2 on bad input). */
export function planCycle(args: RetrainArgs, pipeline: Pipeline): CyclePlan {
  const parsed = parseOptions(pipeline, args.pipelineArgs);
  if (parsed === "help") throw new UsageError("--help: see deno task pipeline <file> --help");
  if (!("data" in pipeline.options) || !("out" in pipeline.options)) {
    throw new UsageError(`${pipeline.name} is not a training pipeline with --data and --out`);
  }
  const dataRoot = String(parsed.data);
  const dataset = openImageDataset(dataRoot);
  if (!dataset.train.length) throw new UsageError(`${dataRoot} has no labelled training images`);
  let holdoutDir = args.holdout;
  if (!holdoutDir) {
    if (dataset.valFrom !== "test-folder" || !dataset.layout.test) {
      throw new UsageError(
        `${dataRoot} has no test folder: give --holdout <dir> (a fixed hold-out that never ` +
          `enters training)`,
      );
    }
    holdoutDir = dataset.layout.test;
  }
  const holdout = openHoldout(holdoutDir);
  checkTraining(parsed);
  pipeline.check?.(parsed);
  const given = givenOptions(parsed);
  const options: Options = {};
  for (const k of given) options[k] = parsed[k];
  return { options, dataRoot, trainFiles: dataset.train, holdout };
}

const fmt = (v: number | undefined) => (v === undefined ? "–" : v.toFixed(4));

/** The gate: whether `cand` replaces `champ`, and why. */
export function gate(
  cand: Figures,
  champ: Figures | undefined,
  o: { gate: "accuracy" | "loss"; minImprovement: number; maxRecallDrop?: number },
): { promote: boolean; reason: string } {
  if (!champ) return { promote: true, reason: "first champion" };
  const m = o.gate;
  const gain = m === "loss" ? champ.loss - cand.loss : cand.accuracy - champ.accuracy;
  if (!(gain > o.minImprovement)) {
    return {
      promote: false,
      reason: `${m} ${fmt(cand[m])} does not beat the champion's ${
        fmt(champ[m])
      } by more than ${o.minImprovement}`,
    };
  }
  if (o.maxRecallDrop !== undefined) {
    for (const [c, r] of Object.entries(champ.recall)) {
      const drop = r - (cand.recall[c] ?? 0);
      if (drop > o.maxRecallDrop) {
        return {
          promote: false,
          reason: `recall of ${c} drops by ${fmt(drop)} (more than ${o.maxRecallDrop})`,
        };
      }
    }
  }
  return {
    promote: true,
    reason: `${m} ${fmt(cand[m])} beats the champion's ${fmt(champ[m])} by ${fmt(gain)}`,
  };
}

/** Runs one cycle; returns the exit code (0 promoted, kept or skipped). */
export async function runCycle(ctx: CycleContext, plan: CyclePlan): Promise<number> {
  const { args, store } = ctx;
  const log = ctx.log ?? ((l: string) => console.log(l));
  const registry = args.registry;
  await Deno.mkdir(registry, { recursive: true });
  const lock = await store.lock();
  try {
    const recent = await store.recent(50);
    const pending = recent.find((c) => c.decision === "running" || c.decision === "interrupted");
    const fp = await fingerprint(plan.dataRoot, plan.trainFiles, args.hashContent);
    const before = championId(registry);
    const trained = recent.find((c) => c.decision === "promoted" || c.decision === "kept");
    const canResume = pending !== undefined && await exists(runDirOf(registry, pending.id));
    if (!canResume && trained && trained.fingerprint === fp) {
      log(`skipped: data unchanged since ${trained.id} (${trained.started})`);
      await store.record(base(`s${await store.lastNumber() + 1}`, fp, plan, {
        decision: "skipped",
        reason: `data unchanged since ${trained.id}`,
        championBefore: before,
        championAfter: before,
        exitCode: 0,
        ended: new Date().toISOString(),
      }));
      return 0;
    }
    const id = canResume ? pending!.id : candidateId(await store.lastNumber() + 1);
    const record = canResume ? { ...pending!, decision: "running" as const } : base(id, fp, plan, {
      decision: "running",
      reason: "training",
      championBefore: before,
    });
    await store.record(record);
    const options: Options = { ...plan.options, out: candidateDir(registry, id), grid: "none" };
    if (canResume) {
      options.resume = candidateDir(registry, id);
      delete options.warmStart;
      log(`${id}: resuming the candidate of an interrupted cycle`);
    } else if (before && !args.fromScratch) {
      const ckpt = `${runDirOf(registry, before)}/last.ckpt`;
      if (await exists(ckpt)) options.warmStart = ckpt;
      else log(`${id}: champion ${before} has no checkpoint; training from scratch`);
    }
    try {
      await ctx.pipeline.run(withDefaults(ctx.pipeline, options));
    } catch (e) {
      // A full disk stops the candidate as a signal does: the next cycle resumes it.
      const interrupted = e instanceof InterruptedError || e instanceof NoSpaceError;
      const reason = e instanceof NoSpaceError ? e.reason : (e as Error).message.split("\n")[0];
      await store.record({
        ...record,
        decision: interrupted ? "interrupted" : "failed",
        reason,
        ended: new Date().toISOString(),
        exitCode: e instanceof InterruptedError ? e.exitCode : 1,
      }).catch((re) => log(`${id}: could not write the history: ${(re as Error).message}`));
      throw e;
    }
    const cand = await evaluateRun(runDirOf(registry, id), plan.holdout);
    const champ = before ? await evaluateRun(runDirOf(registry, before), plan.holdout) : undefined;
    const g = gate(cand, champ, args);
    if (g.promote) setChampion(registry, id);
    const after = championId(registry);
    const done: CycleRecord = {
      ...record,
      decision: g.promote ? "promoted" : "kept",
      reason: g.reason,
      candidate: cand,
      champion: champ,
      championAfter: after,
      ended: new Date().toISOString(),
      exitCode: 0,
    };
    await store.record(done);
    const ever = new Set(
      (await store.recent(10_000)).map((c) => c.championAfter).filter((x): x is string => !!x),
    );
    const r = await retain(registry, args.keep, ever);
    log(
      g.promote
        ? `promoted ${id}: ${g.reason}${before ? ` (was ${before})` : ""}`
        : `kept champion ${before}: candidate ${id}'s ${g.reason}`,
    );
    if (r.deleted.length || r.pruned.length) {
      log(
        `retention: deleted ${r.deleted.join(", ") || "none"}; pruned ${
          r.pruned.join(", ") || "none"
        }`,
      );
    }
    return 0;
  } finally {
    await lock.release();
  }
}

function base(
  id: string,
  fp: string,
  plan: CyclePlan,
  rest: Partial<CycleRecord> & Pick<CycleRecord, "decision" | "reason">,
): CycleRecord {
  return {
    id,
    started: new Date().toISOString(),
    fingerprint: fp,
    files: plan.trainFiles.length,
    host: hostname(),
    pid: Deno.pid,
    ...rest,
  };
}

/** The pipeline's defaults under the given options (what parseOptions would have made). */
function withDefaults(p: Pipeline, given: Options): Options {
  const out: Options = {};
  for (const [k, o] of Object.entries(p.options)) out[k] = o.default;
  return { ...out, ...given };
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(resolve(path));
    return true;
  } catch {
    return false;
  }
}
