/**
 * `deno task retrain <pipeline.ts> --registry <dir> [flags]`: one unattended retraining
 * cycle (training/retrain/cycle.ts), made for cron, a systemd timer or a Kubernetes CronJob;
 * `--status` shows the champion and the last cycles, `--rollback` restores the previous
 * champion, `--schedule "<cron>"` keeps running and starts a cycle at each time.
 * `--plugin <file or URL>` (repeatable; also a job file's flag) imports a plugin file first.
 *
 * Exit codes: 0 cycle done (promoted, kept or skipped: the last line says which), 1 training
 * failed, 2 bad input, 3 another cycle holds the registry's lock, 130/143 interrupted (the
 * next cycle resumes the candidate).
 *
 * @module
 */
import { resolve } from "node:path";
import { exitCodeOf, loadPipeline } from "./cli.ts";
import { invocation } from "./training/pipeline.ts";
import { NoSpaceError, UsageError } from "./core/errors.ts";
import { InterruptedError } from "./training/interrupt.ts";
import { parseRetrainArgs, RETRAIN_USAGE, type RetrainArgs } from "./training/retrain/args.ts";
import { planCycle, runCycle } from "./training/retrain/cycle.ts";
import { rollback, status } from "./training/retrain/status.ts";
import { runSchedule } from "./training/retrain/schedule.ts";
import type { RetrainStore } from "./training/retrain/store.ts";
import { openSqliteStore } from "./training/retrain/store_sqlite.ts";
import { loadPlugins, takePluginFlags } from "./training/plugin_files.ts";

/** Opens the registry's history store: SQLite in the registry, or PostgreSQL with --store. */
export function openStore(a: RetrainArgs): Promise<RetrainStore> {
  if (!a.store) return openSqliteStore(a.registry);
  if (!/^postgres(ql)?:\/\//.test(a.store)) {
    throw new UsageError(
      `--store must be a postgres:// URL (the default is SQLite in the registry)`,
    );
  }
  // Loaded only when asked for: the SQLite default needs no PostgreSQL client.
  return import("./training/retrain/store_postgres.ts").then((m) =>
    m.openPostgresStore(a.store!, resolve(a.registry))
  );
}

/** Runs the retrain command on `argv`; returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  let store: RetrainStore | undefined;
  try {
    const given = takePluginFlags(argv);
    const args = await parseRetrainArgs(given.rest);
    if (args.help) {
      console.log(RETRAIN_USAGE);
      return 0;
    }
    if (args.schedule) return await runSchedule(args.schedule, argv);
    invocation.file = args.pipeline;
    const pipeline = await loadPipeline(args.pipeline);
    // --plugin on the command line, or among a job file's flags (now in pipelineArgs).
    const fromJob = takePluginFlags(args.pipelineArgs);
    args.pipelineArgs = fromJob.rest;
    await loadPlugins([...given.files, ...fromJob.files]);
    if (args.status) {
      store = await openStore(args);
      await status(args.registry, store);
      return 0;
    }
    if (args.rollback) {
      store = await openStore(args);
      await rollback(args.registry, store);
      return 0;
    }
    // Everything that can be wrong with the input is found before the lock and any GPU work.
    const plan = planCycle(args, pipeline);
    store = await openStore(args);
    return await runCycle({ args, pipeline, store }, plan);
  } catch (e) {
    if (e instanceof InterruptedError) {
      console.error(e.message.split("\n")[0]);
      console.error("the next retrain cycle resumes this candidate");
      return e.exitCode;
    }
    if (e instanceof NoSpaceError) {
      console.error(`training failed: ${e.reason}`);
      console.error("the next retrain cycle resumes this candidate");
      return 1;
    }
    return exitCodeOf(e, RETRAIN_USAGE);
  } finally {
    await store?.close();
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
