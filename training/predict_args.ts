/**
 * The checks of `deno task predict` that run before any GPU work: flags, the model
 * argument (an `.onnx` file, a run folder, or a checkpoint with `--onnx`), the image
 * arguments (files and folders), and reading the ONNX file and checkpoint. Every problem
 * is a {@link UsageError} with a one-line message; `predict.ts` prints it with the usage
 * line and exits 2. {@link checkFit} is the strict checkpoint-to-network comparison.
 *
 * @module
 */
import { join } from "node:path";
import type { Module, StateDict } from "../core/nn/module.ts";
import { checkImportable } from "../onnx/import.ts";
import { type OnnxModel, readOnnxFile } from "../onnx/read.ts";
import { BEST, type Checkpoint, decodeCheckpoint, LAST } from "./checkpoint.ts";
import { intFlag, oneLine, parseFlags, UsageError } from "./cli_args.ts";
import { IMAGE_EXTENSIONS, listUnlabelled } from "../stages/load.ts";
import type { NormalizeOptions } from "../stages/normalize.ts";
import type { FileEntry } from "../stages/types.ts";

export { UsageError };

/** The back ends predict runs on. */
export const BACKENDS = ["engine", "ort-node", "ort-wasm", "ort-webgpu"] as const;
/** One of {@link BACKENDS}. */
export type Backend = typeof BACKENDS[number];

/** The usage line. */
export const USAGE =
  "usage: deno task predict <model.onnx | run folder | checkpoint> <images or folders...> " +
  "[--backend engine|ort-node|ort-wasm|ort-webgpu] [--batch 16] [--size 150] [--top 1] " +
  "[--weights] [--onnx FILE] [--csv | --json] [--plugin FILE]";

/** What predict was asked to do. */
export interface PredictArgs {
  help: boolean;
  model: string;
  images: string[];
  backend: Backend;
  batch: number;
  size: number;
  top: number;
  weights: boolean;
  onnx?: string;
  format: "table" | "csv" | "json";
}

/** Parses and checks predict's flags and positionals (files are checked later). */
export function parsePredictArgs(args: readonly string[]): PredictArgs {
  const { values: v, positionals } = parseFlags(args, {
    backend: { type: "string" },
    batch: { type: "string" },
    size: { type: "string" },
    top: { type: "string" },
    weights: { type: "boolean" },
    onnx: { type: "string" },
    csv: { type: "boolean" },
    json: { type: "boolean" },
    help: { type: "boolean", short: "h" },
  });
  const str = (k: string, d: string) => (v[k] as string | undefined) ?? d;
  const out: PredictArgs = {
    help: v.help === true,
    model: positionals[0] ?? "",
    images: positionals.slice(1),
    backend: "engine",
    batch: 16,
    size: 150,
    top: 1,
    weights: v.weights === true,
    onnx: v.onnx as string | undefined,
    format: v.csv ? "csv" : v.json ? "json" : "table",
  };
  if (out.help) return out;
  const backend = str("backend", "engine");
  if (!(BACKENDS as readonly string[]).includes(backend)) {
    throw new UsageError(`--backend must be one of ${BACKENDS.join(", ")}, got ${backend}`);
  }
  out.backend = backend as Backend;
  out.batch = intFlag("--batch", str("batch", "16"));
  out.size = intFlag("--size", str("size", "150"));
  out.top = intFlag("--top", str("top", "1"));
  if (v.csv && v.json) throw new UsageError("--csv and --json exclude each other");
  if (out.onnx === "") throw new UsageError("--onnx needs a file");
  if (!out.model) {
    throw new UsageError("missing the model (an .onnx file, run folder or checkpoint)");
  }
  if (out.images.length === 0) throw new UsageError("missing the images (files or folders)");
  return out;
}

function stat(p: string): Deno.FileInfo | null {
  try {
    return Deno.statSync(p);
  } catch {
    return null;
  }
}

/** What the model argument resolved to, read from disk (no GPU work). */
export interface ResolvedModel {
  /** The ONNX file giving the architecture (and weights unless a checkpoint is loaded). */
  onnx: string;
  model: OnnxModel;
  /** The checkpoint whose weights replace the file's, with its path. */
  ckptPath?: string;
  ckpt?: Checkpoint;
}

const CKPT_MAGIC = "WGCKPT01";

async function readCheckpoint(path: string): Promise<Checkpoint> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    throw new UsageError(`cannot read ${path}: ${oneLine(e)}`);
  }
  try {
    return decodeCheckpoint(bytes, path);
  } catch (e) {
    throw new UsageError(oneLine(e));
  }
}

function isCheckpointFile(path: string): boolean {
  try {
    const f = Deno.openSync(path);
    try {
      const head = new Uint8Array(CKPT_MAGIC.length);
      const n = f.readSync(head) ?? 0;
      return new TextDecoder().decode(head.subarray(0, n)) === CKPT_MAGIC;
    } finally {
      f.close();
    }
  } catch {
    return false;
  }
}

async function readModel(path: string, flag: string): Promise<OnnxModel> {
  const info = stat(path);
  if (!info) throw new UsageError(`${flag}${path}: not found`);
  if (!info.isFile) throw new UsageError(`${flag}${path}: not a file`);
  try {
    return await readOnnxFile(path);
  } catch (e) {
    const msg = oneLine(e);
    throw new UsageError(msg.startsWith(path) ? msg : `${path}: cannot read (${msg})`);
  }
}

/**
 * Resolves the model argument and reads the ONNX file (and checkpoint): a retraining
 * registry uses its champion's run folder; a run folder uses
 * its `model.onnx` (or `--onnx`), with `--weights` its `best.ckpt` (else `last.ckpt`); a
 * checkpoint needs `--onnx`. Throws a {@link UsageError} for anything that does not fit.
 */
export async function resolveModel(a: PredictArgs): Promise<ResolvedModel> {
  let arg = a.model;
  // A retraining registry predicts with its champion (the run behind `champion`).
  const champion = join(arg, "champion", "version_0", "run");
  if (!stat(join(arg, "model.onnx")) && stat(join(champion, "model.onnx"))?.isFile) arg = champion;
  const info = stat(arg);
  if (!info) throw new UsageError(`model not found: ${arg}`);
  let onnx: string, ckptPath: string | undefined;
  if (info.isDirectory) {
    onnx = a.onnx ?? join(arg, "model.onnx");
    if (!a.onnx && !stat(onnx)?.isFile) {
      throw new UsageError(
        `${arg} is neither an .onnx file, a run folder with model.onnx, nor a checkpoint`,
      );
    }
    if (a.weights) {
      ckptPath = [BEST, LAST].map((n) => join(arg, n)).find((p) => stat(p)?.isFile);
      if (!ckptPath) throw new UsageError(`--weights: run folder ${arg} has no ${BEST} or ${LAST}`);
    }
  } else if (arg.toLowerCase().endsWith(".onnx")) {
    if (a.weights) throw new UsageError("--weights needs a run folder, not an .onnx file");
    if (a.onnx) throw new UsageError(`--onnx is for a checkpoint or run folder; ${arg} is ONNX`);
    onnx = arg;
  } else {
    if (!isCheckpointFile(arg)) {
      throw new UsageError(
        `${arg} is neither an .onnx file, a run folder with model.onnx, nor a checkpoint`,
      );
    }
    if (!a.onnx) {
      throw new UsageError(`${arg}: a checkpoint needs --onnx FILE for the network's architecture`);
    }
    onnx = a.onnx;
    ckptPath = arg;
  }
  if (ckptPath && a.backend !== "engine") {
    throw new UsageError(`a checkpoint's weights load with --backend engine only`);
  }
  const model = await readModel(onnx, a.onnx ? "--onnx " : "");
  if (a.backend === "engine") checkEngineSupport(model, onnx);
  const ckpt = ckptPath ? await readCheckpoint(ckptPath) : undefined;
  return { onnx, model, ckptPath, ckpt };
}

/** Refuses, before any GPU work, a model the engine's importer cannot run. */
export function checkEngineSupport(model: OnnxModel, file: string): void {
  try {
    checkImportable(model, file);
  } catch (e) {
    const unsupported = /unsupported operator/.test((e as Error).message);
    throw new UsageError((e as Error).message + (unsupported ? "; try --backend ort-node" : ""));
  }
}

/** The input geometry predict feeds the model. */
export interface InputSpec {
  /** The model's fixed batch size, if it has one. */
  fixedBatch: number | null;
  channels: 1 | 3;
  height: number;
  width: number;
  normalize: NormalizeOptions;
  classes: string[];
}

/** Reads the input shape, normalization and class names from the model (and checkpoint). */
export function inputSpec(r: ResolvedModel, size: number): InputSpec {
  const input = r.model.graph.inputs[0];
  const shape = input?.type?.kind === "tensor" ? input.type.shape ?? [] : [];
  if (shape.length && shape.length !== 4) {
    throw new UsageError(`${r.onnx}: input [${shape}] is not an image batch [N, C, H, W]`);
  }
  const dim = (k: number, d: number) => (typeof shape[k] === "number" ? shape[k] as number : d);
  const c = dim(1, 3);
  if (c !== 1 && c !== 3) throw new UsageError(`${r.onnx}: input has ${c} channels, not 1 or 3`);
  const meta = r.model.metadata;
  const json = (key: string): unknown => {
    if (!meta[key]) return undefined;
    try {
      return JSON.parse(meta[key]);
    } catch {
      throw new UsageError(`${r.onnx}: metadata '${key}' is not JSON`);
    }
  };
  let classes = json("classes") as string[] | undefined;
  if (
    classes !== undefined &&
    !(Array.isArray(classes) && classes.every((s) => typeof s === "string"))
  ) {
    throw new UsageError(`${r.onnx}: metadata 'classes' is not a list of names`);
  }
  if (!classes?.length && r.ckpt) {
    classes = Object.entries(r.ckpt.classes).sort((a, b) => a[1] - b[1]).map(([k]) => k);
  }
  const norm = (json("normalize") ?? {}) as NormalizeOptions;
  return {
    fixedBatch: typeof shape[0] === "number" ? shape[0] as number : null,
    channels: c,
    height: dim(2, size),
    width: dim(3, size),
    normalize: { ...norm, channels: c },
    classes: classes ?? [],
  };
}

const isImageName = (p: string) => IMAGE_EXTENSIONS.some((e) => p.toLowerCase().endsWith(e));

/**
 * The image files named by `paths`: files as they are, folders searched recursively (as
 * `listUnlabelled`); duplicates once, in order. Throws a {@link UsageError} for a path that
 * does not exist, a file that is not an image type, or a folder without images.
 */
export function listImages(paths: readonly string[]): FileEntry[] {
  const seen = new Set<string>();
  const out: FileEntry[] = [];
  const add = (p: string) => {
    if (!seen.has(p)) out.push({ path: p, label: -1 });
    seen.add(p);
  };
  for (const p of paths) {
    const info = stat(p);
    if (!info) throw new UsageError(`image path not found: ${p}`);
    if (info.isDirectory) {
      try {
        for (const f of listUnlabelled(p).files) add(f.path);
      } catch (e) {
        throw new UsageError(oneLine(e));
      }
    } else if (!isImageName(p)) {
      throw new UsageError(`${p}: not an image file (${IMAGE_EXTENSIONS.join(", ")})`);
    } else add(p);
  }
  if (out.length === 0) throw new UsageError("no images found");
  return out;
}

const dims = (s: readonly number[]) => `[${s.join(",")}]`;

/**
 * Strict fit of a checkpoint's weights to a network: every parameter and buffer present
 * with the same shape, nothing extra. Throws a {@link UsageError} naming the first one that
 * does not match, in the network's order (then the checkpoint's extra names).
 */
export function checkFit(
  weights: StateDict,
  net: Module,
  ckpt: string,
  onnx: string,
  frozen: ReadonlySet<string> = new Set(),
): void {
  const head = `checkpoint ${ckpt} does not fit ${onnx}`;
  const own = [...net.namedParameters(), ...net.namedBuffers()];
  for (const [name, t] of own) {
    if (frozen.has(name)) continue;
    const e = weights[name];
    if (!e) throw new UsageError(`${head}: it has no ${name}, the model expects ${dims(t.shape)}`);
    const same = e.shape.length === t.shape.length && e.shape.every((d, k) => d === t.shape[k]);
    if (!same) {
      throw new UsageError(
        `${head}: ${name} has shape ${dims(e.shape)}, the model expects ${dims(t.shape)}`,
      );
    }
    if (e.data.length !== t.size) {
      throw new UsageError(`${head}: ${name} holds ${e.data.length} values, not ${t.size}`);
    }
  }
  const names = new Set(own.map(([n]) => n));
  const extra = Object.keys(weights).find((n) => !names.has(n));
  if (extra) {
    throw new UsageError(`${head}: ${extra} ${dims(weights[extra].shape)} is not in the model`);
  }
}
