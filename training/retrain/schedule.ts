/**
 * `--schedule "<cron>"`: for people without cron, keeps the process running and starts one
 * cycle at each time of the cron expression, each cycle in its own child process (the same
 * command without `--schedule`, so a cycle's GPU state and memory never outlive it). A time
 * that comes while the previous cycle still runs is skipped, with a line.
 *
 * Cron expressions come from `croner` (npm): maintained, dependency-free, five- and
 * six-field expressions with time zones; `Deno.cron` needs `--unstable-cron` and runs in
 * the same process, which would keep a cycle's GPU state alive between cycles.
 */
import { Cron } from "croner";
import { UsageError } from "../../core/errors.ts";

/** Checks a cron expression (exit 2 when it is not one) and returns its next time. */
export function nextTime(expr: string): Date {
  let job: Cron;
  try {
    job = new Cron(expr, { paused: true });
  } catch (e) {
    throw new UsageError(`--schedule "${expr}": ${(e as Error).message}`);
  }
  const next = job.nextRun();
  job.stop();
  if (!next) throw new UsageError(`--schedule "${expr}" has no future time`);
  return next;
}

const MEANING: Record<number, string> = {
  0: "done",
  1: "training failed",
  2: "bad input",
  3: "another cycle holds the lock",
  130: "interrupted",
  143: "interrupted",
};

/** Runs cycles at the times of `expr` until stopped (SIGINT/SIGTERM); returns 0. */
export async function runSchedule(expr: string, argv: string[]): Promise<number> {
  nextTime(expr);
  const args: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--schedule") i++;
    else if (!argv[i].startsWith("--schedule=")) args.push(argv[i]);
  }
  const script = new URL("../../retrain.ts", import.meta.url).pathname;
  let running: Deno.ChildProcess | null = null;
  const job = new Cron(expr, () => {
    const at = new Date().toISOString();
    if (running) {
      console.log(`${at}: the previous cycle is still running; skipping this one`);
      return;
    }
    console.log(`${at}: starting a cycle`);
    const child = new Deno.Command(Deno.execPath(), { args: ["run", "-A", script, ...args] })
      .spawn();
    running = child;
    child.status.then((s) => {
      running = null;
      console.log(
        `${new Date().toISOString()}: cycle exited ${s.code} (${MEANING[s.code] ?? "?"})`,
      );
      const next = job.nextRun();
      if (next) console.log(`next cycle at ${next.toISOString()}`);
    });
  });
  console.log(`schedule "${expr}": next cycle at ${job.nextRun()?.toISOString()}`);
  await new Promise<void>((resolve) => {
    const stop = () => {
      job.stop();
      console.log("schedule stopped" + (running ? "; the running cycle is interrupted" : ""));
      running?.kill("SIGTERM");
      resolve();
    };
    Deno.addSignalListener("SIGINT", stop);
    Deno.addSignalListener("SIGTERM", stop);
  });
  if (running) await (running as Deno.ChildProcess).status;
  return 0;
}
