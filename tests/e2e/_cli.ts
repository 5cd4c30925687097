/**
 * Helpers of the end-to-end tests: run a command as a user would (`cli.ts`, `predict.ts`,
 * the data task) and stop a run at a known point — the test hook
 * `WEBGPU_TRAIN_BLOCK_AFTER_STEP=N` makes the run print a line and wait after step N, so
 * a signal arrives exactly there, never on a timer.
 */
import { assert } from "../assert.ts";
import { type Checkpoint, loadCheckpoint } from "../../training/checkpoint.ts";
import { readCsv } from "../../stages/log/csv.ts";
import { tempDir } from "../_temp.ts";

/** The repository root. */
export const ROOT = new URL("../../", import.meta.url).pathname;
/** The small pipeline of the e2e tests. */
export const TINY = new URL("./tiny_pipeline.ts", import.meta.url).pathname;

/** What a finished command printed. */
export interface Result {
  code: number;
  out: string;
  err: string;
}

const dec = new TextDecoder();

/** Runs `deno run -q -A <script> …args` in the repository root (-q: no Download lines of Deno's). */
export async function run(
  script: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<Result> {
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-q", "-A", `${ROOT}${script}`, ...args],
    cwd: ROOT,
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: r.code, out: dec.decode(r.stdout), err: dec.decode(r.stderr) };
}

/** Runs `deno task pipeline …args` (through cli.ts). */
export function cli(args: string[], env: Record<string, string> = {}): Promise<Result> {
  return run("cli.ts", args, env);
}

/** A run started in the background and blocked after a step by the test hook. */
export interface Blocked {
  child: Deno.ChildProcess;
  /** Output so far (stdout and stderr together). */
  output: () => string;
  /** Sends `signal` and waits for the exit; returns the code and everything printed. */
  stop(signal: Deno.Signal): Promise<{ code: number; signal: Deno.Signal | null; all: string }>;
}

/**
 * Starts `<script> …args` in the background and resolves once its output (stdout and stderr
 * together) matches `until`; fails when the process ends first.
 */
export async function startUntil(
  script: string,
  args: string[],
  env: Record<string, string>,
  until: (output: string) => boolean,
): Promise<Blocked> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-q", "-A", `${ROOT}${script}`, ...args],
    cwd: ROOT,
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let all = "";
  let reached: () => void;
  const isReached = new Promise<void>((r) => (reached = r));
  const pump = async (s: ReadableStream<Uint8Array>) => {
    for await (const chunk of s.pipeThrough(new TextDecoderStream())) {
      all += chunk;
      if (until(all)) reached();
    }
  };
  const pumped = Promise.all([pump(child.stdout), pump(child.stderr)]);
  const status = child.status;
  const ended = await Promise.race([isReached.then(() => false), status.then(() => true)]);
  assert(!ended, `${script} ended before the awaited output:\n${all}`);
  return {
    child,
    output: () => all,
    async stop(signal) {
      child.kill(signal);
      const s = await status;
      await pumped;
      return { code: s.code, signal: s.signal, all };
    },
  };
}

/** Starts `<script> …args` (default cli.ts) with the run set to block after step `step`; resolves once it does. */
export function startBlocked(
  args: string[],
  step: number | string,
  script = "cli.ts",
): Promise<Blocked> {
  return startUntil(
    script,
    args,
    { WEBGPU_TRAIN_BLOCK_AFTER_STEP: String(step) },
    (out) => /test hook: blocking after step/.test(out),
  );
}

/**
 * A copy of the Intel fixtures cut to the first set fixtures/make_intel.py draws (1.jpg …
 * 46.jpg: 5 training and 2 test images a class, 4 unlabelled) with every awkward file: 34
 * usable training images, 12 test images. Into `to`, or a new temporary folder; returns the
 * folder. For tests whose runs would be slow on all the fixtures on the CPU adapter
 * (custom_cnn.ts trains at about 2 images a second) and which do not depend on their number
 * (the retraining cycles).
 */
export async function firstSet(to?: string): Promise<string> {
  const out = to ?? await tempDir("intel_first_set_");
  const copy = async (from: string, to: string) => {
    await Deno.mkdir(to, { recursive: true });
    for await (const e of Deno.readDir(from)) {
      if (e.isDirectory) await copy(`${from}/${e.name}`, `${to}/${e.name}`);
      else if (!(/^\d+\.jpg$/.test(e.name) && parseInt(e.name) > 46)) {
        await Deno.copyFile(`${from}/${e.name}`, `${to}/${e.name}`);
      }
    }
  };
  await copy(`${ROOT}fixtures/intel`, out);
  return out;
}

/** Asserts two checkpoints hold bit-identical weights, generators and counters. */
export function assertSameCheckpoint(a: Checkpoint, b: Checkpoint, what: string): void {
  assert(
    a.epoch === b.epoch && a.step === b.step,
    `${what}: epoch/step ${a.epoch}/${a.step} vs ${b.epoch}/${b.step}`,
  );
  for (const [name, e] of Object.entries(a.weights)) {
    const f = b.weights[name]?.data;
    assert(f && f.length === e.data.length, `${what}: ${name} missing`);
    const bad = e.data.findIndex((v, i) => !Object.is(v, f[i]));
    assert(bad < 0, `${what}: ${name}[${bad}] ${e.data[bad]} vs ${f[bad]}`);
  }
  assert(JSON.stringify(a.rng) === JSON.stringify(b.rng), `${what}: generators differ`);
}

/** Loads a run folder's last checkpoint. */
export function lastOf(runDir: string): Promise<Checkpoint> {
  return loadCheckpoint(`${runDir}/last.ckpt`);
}

/** Asserts two metrics.csv files agree on every figure (not on the epochs' durations). */
export async function assertSameMetrics(a: string, b: string): Promise<void> {
  const [ra, rb] = [await readCsv(a), await readCsv(b)];
  assert(ra.length === rb.length, `${a} has ${ra.length} rows, ${b} has ${rb.length}`);
  for (let i = 0; i < ra.length; i++) {
    for (const c of ["run", "epoch", "TrainLoss", "TrainAccuracy", "TestLoss", "TestAccuracy"]) {
      assert(ra[i][c] === rb[i][c], `row ${i + 1} ${c}: ${ra[i][c]} vs ${rb[i][c]}`);
    }
  }
}

/** Every file under `dir` with its bytes (for "left untouched" checks). */
export async function snapshot(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const walk = async (d: string) => {
    for await (const e of Deno.readDir(d)) {
      const p = `${d}/${e.name}`;
      if (e.isDirectory) await walk(p);
      else {
        const bytes = await Deno.readFile(p);
        const hash = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
        out.set(p, [...hash].map((x) => x.toString(16).padStart(2, "0")).join(""));
      }
    }
  };
  await walk(dir);
  return out;
}
