/**
 * Helpers of the hyper-parameter search tests: a small data set (2 classes, 4 training and
 * 2 test images each: 2 steps an epoch at batch 4, whatever the fixtures hold), the flags
 * of a study on the tiny pipeline, and what a study left: its store's trials, its trial
 * folders and metrics.csv rows. Nothing here waits on a fixed time.
 */
import { assert } from "../assert.ts";
import { ROOT, TINY } from "./_cli.ts";
import { readCsv } from "../../stages/log/csv.ts";
import { openSqliteStudy } from "../../training/search/study_sqlite.ts";
import type { TrialRecord } from "../../training/search/study.ts";
import { tempDir } from "../_temp.ts";

const TRAIN = `${ROOT}fixtures/intel/seg_train/seg_train`;

let made: Promise<string> | undefined;

/** The small data set (made once per test file, in a temporary folder). */
export function smallData(): Promise<string> {
  made ??= (async () => {
    const dir = await tempDir("search-data-");
    for (const cls of ["buildings", "forest"]) {
      const files = [...Deno.readDirSync(`${TRAIN}/${cls}`)].map((e) => e.name)
        .filter((n) => n.endsWith(".jpg")).sort((a, b) => parseInt(a) - parseInt(b)).slice(0, 6);
      assert(files.length === 6, `fixtures: ${cls} has too few images`);
      for (const [i, f] of files.entries()) {
        const split = i < 4 ? "train" : "test";
        await Deno.mkdir(`${dir}/${split}/${cls}`, { recursive: true });
        await Deno.copyFile(`${TRAIN}/${cls}/${f}`, `${dir}/${split}/${cls}/${f}`);
      }
    }
    return dir;
  })();
  return made;
}

/** The flags of a study on the tiny pipeline into `out` (more flags after). */
export async function studyArgs(out: string, ...more: string[]): Promise<string[]> {
  return [TINY, "--data", await smallData(), "--out", out, "--search", "random", ...more];
}

/** Every trial of the SQLite study `name` in `<out>/study.sqlite`. */
export async function sqliteTrials(out: string, name: string): Promise<TrialRecord[]> {
  const s = await openSqliteStudy(`${out}/study.sqlite`, name);
  try {
    return await s.trials();
  } finally {
    await s.close();
  }
}

/** The trial folders (`trial_NNNN`) of `<out>/version_0`. */
export function trialFolders(out: string): string[] {
  try {
    return [...Deno.readDirSync(`${out}/version_0`)].filter((e) =>
      e.isDirectory && /^trial_\d{4}$/.test(e.name)
    ).map((e) => e.name).sort();
  } catch {
    return [];
  }
}

/** A trial folder's run.json. */
export function runJson(out: string, trial: string): Record<string, unknown> {
  return JSON.parse(Deno.readTextFileSync(`${out}/version_0/${trial}/run.json`));
}

/** The rows of `<out>/version_0/metrics.csv`. */
export function metricsRows(out: string): Promise<Record<string, string>[]> {
  return readCsv(`${out}/version_0/metrics.csv`);
}

/** Every file under `dir` holding `secret` (none expected). */
export async function filesHolding(dir: string, secrets: string[]): Promise<string[]> {
  const found: string[] = [];
  const walk = async (d: string) => {
    for await (const e of Deno.readDir(d)) {
      const p = `${d}/${e.name}`;
      if (e.isDirectory) await walk(p);
      else if (e.isFile) {
        const text = new TextDecoder("latin1").decode(await Deno.readFile(p));
        if (secrets.some((s) => s && text.includes(s))) found.push(p);
      }
    }
  };
  await walk(dir);
  return found;
}

/** How many times each `trial_NNNN: training` line appears in a command's output. */
export function trainedCounts(output: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const m of output.matchAll(/(trial_\d{4}): (training|resuming from its checkpoint):/g)) {
    counts.set(m[1], (counts.get(m[1]) ?? 0) + 1);
  }
  return counts;
}

/** Runs `cli.ts …args`; kills it and fails after `deadlineMs` (generous: not a timing test). */
export async function cliWithin(
  args: string[],
  env: Record<string, string>,
  deadlineMs = 600_000,
): Promise<{ code: number; out: string; err: string }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-q", "-A", `${ROOT}cli.ts`, ...args],
    cwd: ROOT,
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let late = false;
  const timer = setTimeout(() => {
    late = true;
    child.kill("SIGKILL");
  }, deadlineMs);
  const o = await child.output();
  clearTimeout(timer);
  const dec = new TextDecoder();
  const r = { code: o.code, out: dec.decode(o.stdout), err: dec.decode(o.stderr) };
  assert(!late, `cli.ts ${args.join(" ")} ran past ${deadlineMs} ms:\n${r.out}\n${r.err}`);
  return r;
}
