/**
 * The folders of an invocation and what `--resume` needs of them: the next `version_N`
 * of an output folder, each run's `run.json` status, the version's `options.json`, and the
 * resolution of a resume target (an `--out` folder, a version folder, a run folder or a
 * checkpoint file) to the run it continues, with the run's own options restored.
 */
import type { FilePrint } from "./input_files.ts";
import { basename, dirname, join, resolve } from "node:path";
import { givenOptions, invocation, kebab, type Options, UsageError } from "./pipeline.ts";
import type { HValue } from "../stages/evaluate.ts";
import { writeTextAtomic } from "../stages/atomic.ts";

/** A run's `run.json` (a grid's run, or a study's trial). */
export interface RunStatus {
  name: string;
  hparams: Record<string, HValue>;
  /** A grid run ends `finished`; a trial `complete` or `pruned` (as the study says). */
  state: "running" | "finished" | "interrupted" | "failed" | "complete" | "pruned";
  started: string;
  finished?: string;
  /** Epochs completed when the run finished. */
  epochsDone: number;
  stoppedEarly?: boolean;
  error?: string;
  /** A trial's number in its study. */
  trial?: number;
  /** A trial's configuration, as the study's sampler drew it. */
  params?: Record<string, HValue>;
  /** The worker that ran this attempt of a trial, and which claim it was. */
  worker?: string;
  attempt?: number;
  /** A finished trial's value: the study's metric at its best epoch. */
  value?: number;
}

/** A version folder's `options.json`. */
export interface SavedOptions {
  pipeline: string;
  created: string;
  options: Options;
  /** The `--plugin` files the invocation loaded (URLs): `--resume` loads them again. */
  plugins?: string[];
  /** Set when the version folder holds a study's trials: its name and where it lives. */
  study?: { name: string; storage: string };
  /** The model's input files (`--weights`) when the folder was made (`input_files.ts`). */
  inputs?: Record<string, FilePrint>;
}

/** Where a `--resume` argument points. */
export interface ResumeTarget {
  out: string;
  versionDir: string;
  /** The one run to continue, when a run folder or checkpoint was given. */
  run?: string;
}

const VERSION = /^version_(\d+)$/;
const OPTIONS = "options.json";
const STATUS = "run.json";

/** The pipeline file as the user named it (for options.json and the resume hint). */
export function pipelineFile(): string {
  return invocation.file || "pipeline.ts";
}

/** Writes JSON through a temporary file and a rename. */
export async function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  await writeTextAtomic(path, JSON.stringify(value, null, 2) + "\n");
}

async function readJson<T>(path: string): Promise<T | undefined> {
  try {
    return JSON.parse(await Deno.readTextFile(path)) as T;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw new UsageError(`${path} is not readable JSON (${(e as Error).message})`);
  }
}

function versions(out: string): number[] {
  try {
    return [...Deno.readDirSync(out)].filter((e) => e.isDirectory).map((e) => VERSION.exec(e.name))
      .filter((m): m is RegExpExecArray => m !== null).map((m) => Number(m[1]))
      .sort((a, b) => a - b);
  } catch {
    return [];
  }
}

/** The first unused `version_N` folder of `out` (call with the folder's lock held). */
export function nextVersionDir(out: string): string {
  const v = versions(out);
  return join(out, `version_${v.length ? v[v.length - 1] + 1 : 0}`);
}

/**
 * The version folder of `out` that holds study `name` in `storage` (as options.json
 * records it; a PostgreSQL URL masked), or undefined when no folder does.
 */
export function findStudyVersion(out: string, name: string, storage: string): string | undefined {
  for (const v of versions(out)) {
    const dir = join(out, `version_${v}`);
    try {
      const saved = JSON.parse(Deno.readTextFileSync(join(dir, OPTIONS))) as SavedOptions;
      if (saved.study?.name === name && saved.study.storage === storage) return dir;
    } catch { /* not a study's folder */ }
  }
  return undefined;
}

/** A version folder's options.json, or undefined when it has none. */
export function readSavedOptions(versionDir: string): Promise<SavedOptions | undefined> {
  return readJson<SavedOptions>(join(versionDir, OPTIONS));
}

/** A run folder's status, or undefined when the run never started. */
export function readRunStatus(runDir: string): Promise<RunStatus | undefined> {
  return readJson<RunStatus>(join(runDir, STATUS));
}

/** Writes a run folder's status (atomically). */
export async function writeRunStatus(runDir: string, s: RunStatus): Promise<void> {
  await Deno.mkdir(runDir, { recursive: true });
  await writeJsonAtomic(join(runDir, STATUS), s);
}

function isDir(p: string): boolean {
  try {
    return Deno.statSync(p).isDirectory;
  } catch {
    return false;
  }
}

function isFile(p: string): boolean {
  try {
    return Deno.statSync(p).isFile;
  } catch {
    return false;
  }
}

/**
 * Finds what `--resume <path>` continues: a checkpoint file or run folder (that run), a
 * version folder (its unfinished runs) or an `--out` folder (its latest version).
 */
export function resolveResume(path: string): Promise<ResumeTarget> {
  const p = resolve(path);
  const fail = (why: string) => new UsageError(`--resume ${path}: ${why}`);
  if (!isFile(p) && !isDir(p)) throw fail("no such file or folder");
  const runDir = isFile(p) ? dirname(p) : p;
  if (isFile(p) && !p.endsWith(".ckpt")) throw fail("not a checkpoint (.ckpt) or folder");
  if (isFile(join(runDir, STATUS))) {
    const versionDir = dirname(runDir);
    if (!isFile(join(versionDir, OPTIONS))) {
      throw fail(`the run's folder ${versionDir} has no ${OPTIONS}`);
    }
    if (isFile(p) && basename(p) !== "last.ckpt") {
      console.log(`--resume: continuing from the run's last.ckpt (${basename(p)} is a snapshot)`);
    }
    return Promise.resolve({ out: dirname(versionDir), versionDir, run: basename(runDir) });
  }
  if (isFile(p)) throw fail("this checkpoint is not inside a run folder (no run.json beside it)");
  if (isFile(join(p, OPTIONS))) return Promise.resolve({ out: dirname(p), versionDir: p });
  const v = versions(p);
  if (!v.length) throw fail("holds no runs (no version_N folder, run.json or options.json)");
  return Promise.resolve({ out: p, versionDir: join(p, `version_${v[v.length - 1]}`) });
}

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
}

/**
 * The options of the run being resumed: those saved in its `options.json`, with `--epochs`
 * taken from the command line when given (to extend a run). Any other flag given that
 * differs from the saved one is an error naming the flag.
 */
export async function restoreOptions(o: Options, t: ResumeTarget): Promise<Options> {
  const saved = await readJson<SavedOptions>(join(t.versionDir, OPTIONS));
  if (!saved) throw new UsageError(`--resume: ${t.versionDir} has no ${OPTIONS}`);
  const file = basename(pipelineFile()).replace(/\.ts$/, "");
  if (basename(saved.pipeline).replace(/\.ts$/, "") !== file) {
    throw new UsageError(
      `--resume: ${t.versionDir} was trained by ${saved.pipeline}, not ${pipelineFile()}`,
    );
  }
  const given = givenOptions(o);
  for (const k of given) {
    if (k === "resume" || k === "epochs" || !(k in saved.options)) continue;
    if (k === "out") {
      if (resolve(String(o.out)) !== resolve(t.out)) {
        throw new UsageError(`--out ${o.out} differs from the resumed run's folder ${t.out}`);
      }
      continue;
    }
    if (!same(o[k], saved.options[k])) {
      throw new UsageError(
        `--${kebab(k)} ${o[k]} differs from the resumed run's ${JSON.stringify(saved.options[k])}` +
          ` (a resumed run keeps its settings; only --epochs may change)`,
      );
    }
  }
  return {
    ...saved.options,
    epochs: given.has("epochs") ? o.epochs : saved.options.epochs,
    out: t.out,
    resume: o.resume,
  };
}
