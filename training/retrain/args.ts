/**
 * The flags of `deno task retrain <pipeline> --registry <dir> [retrain flags] [pipeline
 * flags]`, and its job file: retrain's own flags are taken out, every other flag goes to
 * the pipeline. A job file (`--job job.json`) holds the same as JSON, so a crontab line
 * stays short:
 *
 *   {"pipeline": "intel.ts", "registry": "registry/intel",
 *    "retrain": {"keep": 5, "min-improvement": 0.01},
 *    "flags": {"data": "/data/intel", "weights": "/models/vgg16-12.onnx", "epochs": 10}}
 *
 * Flags on the command line come after the job's, so they win.
 */
import { checkOutFolder } from "../out_folder.ts";
import { UsageError } from "../../core/errors.ts";

/** Retrain's own settings. */
export interface RetrainArgs {
  pipeline: string;
  registry: string;
  fromScratch: boolean;
  holdout?: string;
  minImprovement: number;
  /** The gate metric: hold-out accuracy (higher wins) or loss (lower wins). */
  gate: "accuracy" | "loss";
  maxRecallDrop?: number;
  keep: number;
  hashContent: boolean;
  store?: string;
  status: boolean;
  rollback: boolean;
  schedule?: string;
  help: boolean;
  /** The flags passed on to the pipeline. */
  pipelineArgs: string[];
}

/** The usage line. */
export const RETRAIN_USAGE =
  "usage: deno task retrain <pipeline.ts> --registry <dir> [--job file.json] [--from-scratch] " +
  "[--holdout <dir>] [--gate accuracy|loss] [--min-improvement 0] [--max-recall-drop x] [--keep 5] [--hash-content] " +
  '[--store postgres://…] [--status | --rollback] [--schedule "0 3 * * *"] [--plugin file] ' +
  "[pipeline flags]";

const VALUE = [
  "registry",
  "job",
  "holdout",
  "gate",
  "min-improvement",
  "max-recall-drop",
  "keep",
  "store",
];
const BOOL = ["from-scratch", "hash-content", "status", "rollback", "help"];

function num(flag: string, v: string, check: (n: number) => boolean, what: string): number {
  const n = Number(v);
  if (v.trim() === "" || !Number.isFinite(n) || !check(n)) {
    throw new UsageError(`--${flag} must be ${what}, got "${v}"`);
  }
  return n;
}

/** A job file's content as arguments (retrain flags first, then the pipeline's). */
export async function jobArgs(path: string): Promise<string[]> {
  let job: Record<string, unknown>;
  try {
    job = JSON.parse(await Deno.readTextFile(path));
  } catch (e) {
    throw new UsageError(`--job ${path}: ${(e as Error).message}`);
  }
  if (typeof job !== "object" || job === null || Array.isArray(job)) {
    throw new UsageError(`--job ${path}: expected a JSON object`);
  }
  const known = new Set(["pipeline", "registry", "retrain", "flags", "schedule"]);
  for (const k of Object.keys(job)) {
    if (!known.has(k)) throw new UsageError(`--job ${path}: unknown key "${k}"`);
  }
  const out: string[] = [];
  if (job.pipeline !== undefined) out.push(String(job.pipeline));
  if (job.registry !== undefined) out.push("--registry", String(job.registry));
  if (job.schedule !== undefined) out.push("--schedule", String(job.schedule));
  const flags = (o: unknown, where: string) => {
    if (o === undefined) return;
    if (typeof o !== "object" || o === null || Array.isArray(o)) {
      throw new UsageError(`--job ${path}: "${where}" must be an object of flags`);
    }
    for (const [k, v] of Object.entries(o)) {
      if (v === false) continue;
      out.push(`--${k}`);
      if (v !== true) out.push(String(v));
    }
  };
  flags(job.retrain, "retrain");
  flags(job.flags, "flags");
  return out;
}

/** Parses retrain's arguments (a `--job` file is expanded in place). */
export async function parseRetrainArgs(argv: readonly string[]): Promise<RetrainArgs> {
  let args = [...argv];
  const j = args.indexOf("--job");
  if (j >= 0) {
    if (!args[j + 1]) throw new UsageError("--job needs a file");
    let fromJob = await jobArgs(args[j + 1]);
    args = [...args.slice(0, j), ...args.slice(j + 2)];
    // A pipeline named on the command line (its first argument) wins over the job's.
    if (args[0] && !args[0].startsWith("-") && fromJob[0] && !fromJob[0].startsWith("-")) {
      fromJob = fromJob.slice(1);
    }
    const cmdPipeline = args[0] && !args[0].startsWith("-") ? [args.shift()!] : [];
    args = [...cmdPipeline, ...fromJob, ...args];
  }
  const r: RetrainArgs = {
    pipeline: "",
    registry: "",
    fromScratch: false,
    minImprovement: 0,
    gate: "accuracy",
    keep: 5,
    hashContent: false,
    status: false,
    rollback: false,
    help: false,
    pipelineArgs: [],
  };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const eq = a.indexOf("=");
    const name = a.startsWith("--") ? a.slice(2, eq > 0 ? eq : undefined) : "";
    if (name === "h" || a === "-h") r.help = true;
    else if (BOOL.includes(name)) {
      const key = name.replace(/-([a-z])/g, (_, c) => c.toUpperCase()) as
        | "fromScratch"
        | "hashContent"
        | "status"
        | "rollback"
        | "help";
      r[key] = true;
    } else if (VALUE.includes(name) || name === "schedule") {
      const v = eq > 0 ? a.slice(eq + 1) : args[++i];
      if (v === undefined) throw new UsageError(`--${name} needs a value`);
      if (name === "registry") r.registry = v;
      else if (name === "holdout") r.holdout = v;
      else if (name === "store") r.store = v;
      else if (name === "gate") {
        if (v !== "accuracy" && v !== "loss") {
          throw new UsageError(`--gate must be accuracy or loss, got "${v}"`);
        }
        r.gate = v;
      } else if (name === "schedule") r.schedule = v;
      else if (name === "keep") r.keep = num(name, v, (n) => n >= 1 && Number.isInteger(n), "≥ 1");
      else if (name === "min-improvement") {
        r.minImprovement = num(name, v, (n) => n >= 0 && n < 1, "a number in [0, 1)");
      } else if (name === "max-recall-drop") {
        r.maxRecallDrop = num(name, v, (n) => n >= 0 && n <= 1, "a number in [0, 1]");
      }
    } else if (!a.startsWith("-") && !r.pipeline && r.pipelineArgs.length === 0) r.pipeline = a;
    else r.pipelineArgs.push(a);
  }
  if (r.help) return r;
  if (!r.pipeline) throw new UsageError("name the pipeline to retrain (e.g. intel.ts)");
  if (!r.registry) throw new UsageError("--registry <dir> is required");
  if (r.status && r.rollback) throw new UsageError("--status and --rollback are separate commands");
  if (!r.status) checkOutFolder(r.registry, "--registry"); // --status only reads
  for (const f of ["--out", "--resume", "--grid"]) {
    if (r.pipelineArgs.some((a) => a === f || a.startsWith(f + "="))) {
      throw new UsageError(
        `${f} is retrain's to set: each cycle trains one candidate into the registry`,
      );
    }
  }
  return r;
}
