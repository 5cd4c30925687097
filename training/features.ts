/**
 * Fast frozen features. The frozen part of a transfer model does most of the work of every
 * epoch; this module runs it on the fastest correct backend at hand and, when augmentation
 * is off, computes it once per data set and caches it on disk.
 *
 * Backends: the engine's own kernels ("engine", on the WebGPU adapter), and ONNX Runtime
 * running the frozen part of the same file (the source graph cut at the feature output, or
 * the frozen layers exported when there is no source): its native CPU build ("ort-node"),
 * its wasm build with threads ("ort-wasm") and its WebGPU build ("ort-webgpu").
 * `selectFeatureBackend` opens each candidate, checks it against the engine on one batch
 * (relative error ≤ 1e-4), times it, and keeps the fastest.
 *
 * Cache: `<dir>/features-<model hash>-<data hash>.bin`, the model hash over the frozen
 * sub-model's bytes and the input size (plus any caller key, e.g. the normalization), the
 * data hash over every file's path, label and contents. Written atomically.
 *
 * @module
 */
import { join } from "node:path";
import { fromArray, tidy } from "../core/tensor.ts";
import { deriveSeed, Rng } from "../core/random.ts";
import { writeFileAtomic } from "../stages/atomic.ts";
import type { Batch, FileEntry } from "../stages/types.ts";
import { toOnnxModel } from "../onnx/export.ts";
import { type OrtKind, type OrtRunner, ortSession } from "../onnx/ort.ts";
import type { TransferNet } from "../models/transfer.ts";
import { cutModel, floatValue, writeOnnx } from "../onnx/write.ts";

/** Where frozen features can be computed. */
export type FeatureBackendKind = "engine" | OrtKind;

/** Every backend kind, fastest-first on a machine without a GPU. */
export const FEATURE_BACKENDS: readonly FeatureBackendKind[] = [
  "ort-node",
  "engine",
  "ort-wasm",
  "ort-webgpu",
];

/** Computes frozen features for NCHW batches. */
export interface FeatureBackend {
  readonly kind: FeatureBackendKind;
  /** Features for x [N, C, H, W] (row-major), shape [N, …featureShape]. */
  run(x: Float32Array, shape: readonly number[]): Promise<Float32Array>;
  /** Frees the backend's session (the engine's layers belong to the model). */
  release(): Promise<void>;
}

/**
 * The frozen part of `net` as ONNX bytes: the source graph cut at the frozen output when
 * the net was imported with its source, else the frozen layers exported.
 */
export async function frozenOnnx(net: TransferNet): Promise<Uint8Array> {
  const src = net.base.source;
  if (src) {
    const model = cutModel(src, net.frozenOutput, ["batch", ...net.featureShape.map(() => null)]);
    // Zoo files fix the input at 1×3×224×224: the frozen part takes any batch and size.
    const inputs = model.graph.inputs.map((v) =>
      v.type?.kind === "tensor" && v.type.shape?.length === 4
        ? floatValue(v.name, ["batch", v.type.shape[1], "height", "width"])
        : v
    );
    return writeOnnx({ ...model, graph: { ...model.graph, inputs, declaredInputs: inputs } });
  }
  const model = await toOnnxModel(net.frozenPart(), { inputShape: [1, ...net.inputSize] });
  return writeOnnx(model);
}

class EngineBackend implements FeatureBackend {
  readonly kind = "engine" as const;
  constructor(readonly net: TransferNet) {}
  async run(x: Float32Array, shape: readonly number[]): Promise<Float32Array> {
    const y = tidy(() => this.net.forwardFrozen(fromArray(x, shape)));
    const d = await y.data();
    y.dispose();
    return d;
  }
  async release(): Promise<void> {}
}

class OrtBackend implements FeatureBackend {
  constructor(readonly kind: OrtKind, readonly runner: OrtRunner) {}
  async run(x: Float32Array, shape: readonly number[]): Promise<Float32Array> {
    return (await this.runner.run(x, shape)).data;
  }
  release(): Promise<void> {
    return this.runner.release();
  }
}

/** Options of `openFeatureBackend` / `selectFeatureBackend`. */
export interface FeatureBackendOptions {
  /** The frozen sub-model's bytes (default: `frozenOnnx(net)`, computed once). */
  onnx?: Uint8Array;
  /** CPU threads for ONNX Runtime (default: all cores). */
  threads?: number;
}

/**
 * Opens one backend for the frozen part of `net`.
 *
 * @example
 * const be = await openFeatureBackend("ort-node", model);
 * const f = await be.run(batch.x, batch.shape); // [8, 512, 4, 4] as a flat array
 */
export async function openFeatureBackend(
  kind: FeatureBackendKind,
  net: TransferNet,
  opts: FeatureBackendOptions = {},
): Promise<FeatureBackend> {
  if (kind === "engine") return new EngineBackend(net);
  const bytes = opts.onnx ?? await frozenOnnx(net);
  return new OrtBackend(kind, await ortSession(kind, bytes, { threads: opts.threads }));
}

/** One candidate's result in `selectFeatureBackend`. */
export interface BackendTrial {
  kind: FeatureBackendKind;
  /** Images per second on the timed batches (after one warm-up batch). */
  imagesPerSec?: number;
  /** Relative error against the engine on the warm-up batch. */
  relErr?: number;
  /** Why it was not usable. */
  error?: string;
}

/** Options of `selectFeatureBackend`. */
export interface SelectOptions extends FeatureBackendOptions {
  /** Kinds to try (default: all of `FEATURE_BACKENDS`). */
  candidates?: readonly FeatureBackendKind[];
  /** Batch size of the trial (default 8). */
  batch?: number;
  /** Timed batches per candidate after the warm-up (default 1). */
  rounds?: number;
  /** Largest accepted relative error against the engine (default 1e-4). */
  tolerance?: number;
  /** Progress lines (default: none). */
  log?: (line: string) => void;
}

/** ‖a − b‖₂ / ‖b‖₂. */
export function relativeError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0, den = 0;
  for (let i = 0; i < b.length; i++) {
    num += (a[i] - b[i]) ** 2;
    den += b[i] ** 2;
  }
  return den === 0 ? Math.sqrt(num) : Math.sqrt(num / den);
}

/**
 * Tries each candidate on a random batch: checks it against the engine, times it, and
 * returns the fastest correct one (the engine when nothing else works) with every trial.
 *
 * @example
 * const { backend, trials } = await selectFeatureBackend(model, { log: console.log });
 */
export async function selectFeatureBackend(
  net: TransferNet,
  opts: SelectOptions = {},
): Promise<{ backend: FeatureBackend; trials: BackendTrial[] }> {
  const n = opts.batch ?? 8, rounds = opts.rounds ?? 1, tol = opts.tolerance ?? 1e-4;
  const shape = [n, ...net.inputSize];
  const rng = new Rng(1);
  const x = Float32Array.from(
    { length: shape.reduce((p, d) => p * d, 1) },
    () => rng.uniform(-2, 2),
  );
  const kinds = opts.candidates ?? FEATURE_BACKENDS;
  const onnx = kinds.some((k) => k !== "engine") ? opts.onnx ?? await frozenOnnx(net) : undefined;
  const engine = new EngineBackend(net);
  const want = await engine.run(x, shape);
  const trials: BackendTrial[] = [];
  let best: { backend: FeatureBackend; ips: number } | null = null;
  for (const kind of kinds) {
    let be: FeatureBackend | null = null;
    try {
      be = await openFeatureBackend(kind, net, { ...opts, onnx });
      const got = await be.run(x, shape);
      const relErr = relativeError(got, want);
      if (!(relErr <= tol)) throw new Error(`relative error ${relErr.toExponential(2)} > ${tol}`);
      const t0 = performance.now();
      for (let r = 0; r < rounds; r++) await be.run(x, shape);
      const ips = (n * rounds) / ((performance.now() - t0) / 1000);
      trials.push({ kind, imagesPerSec: ips, relErr });
      opts.log?.(
        `features: ${kind} ${ips.toFixed(1)} images/s (rel. error ${relErr.toExponential(1)})`,
      );
      if (!best || ips > best.ips) {
        if (best && best.backend !== be) await best.backend.release();
        best = { backend: be, ips };
      } else await be.release();
    } catch (e) {
      const error = String((e as Error).message ?? e).split("\n")[0];
      trials.push({ kind, error });
      opts.log?.(`features: ${kind} unusable: ${error}`);
      if (be) await be.release();
    }
  }
  return { backend: best?.backend ?? engine, trials };
}

// ---- cache ------------------------------------------------------------------------------

/** Frozen features of a whole data split, in file order. */
export interface FeatureSet {
  /** Features, [count, …shape] row-major. */
  x: Float32Array;
  /** Shape of one item's features. */
  shape: number[];
  labels: Int32Array;
  paths: string[];
}

async function sha256(parts: (Uint8Array | string)[]): Promise<string> {
  const enc = new TextEncoder();
  const bufs = parts.map((p) => (typeof p === "string" ? enc.encode(p) : p));
  const all = new Uint8Array(bufs.reduce((s, b) => s + b.length, 0));
  let at = 0;
  for (const b of bufs) {
    all.set(b, at);
    at += b.length;
  }
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", all));
  return Array.from(d, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Hash of a list of files: each path, label and content digest. */
export async function hashFiles(files: readonly FileEntry[]): Promise<string> {
  const parts: string[] = [];
  for (const f of files) {
    const bytes = await Deno.readFile(f.path);
    parts.push(`${f.path}\t${f.label}\t${await sha256([bytes])}\n`);
  }
  return sha256(parts);
}

/** Hash of the frozen model for cache keys: its ONNX bytes, input size and `extra`. */
export function hashModel(
  onnx: Uint8Array,
  inputSize: readonly number[],
  extra = "",
): Promise<string> {
  return sha256([onnx, `\n${inputSize.join("x")}\n${extra}`]);
}

/** Options of `cachedFeatures`. */
export interface CacheOptions {
  /** Computes features of one batch. */
  backend: FeatureBackend;
  /** The files, in the order `batches` yields them (no shuffling, no augmentation). */
  files: readonly FileEntry[];
  /** The batches of `files` (decoded, resized, normalized). */
  batches: () => ReadableStream<Batch>;
  /** Cache folder (created). */
  dir: string;
  /** `hashModel(…)` of the frozen part. */
  modelHash: string;
  /** `hashFiles(files)` (computed when absent). */
  dataHash?: string;
  /** Shape of one item's features, e.g. `net.featureShape` [C, H, W] (default [n, 1, 1]). */
  itemShape?: number[];
  /** Progress lines. */
  log?: (line: string) => void;
}

const MAGIC = "WGFEAT01";

/** Serializes a feature set: magic, header length, JSON header, padding, float32 data. */
function encode(set: FeatureSet): Uint8Array[] {
  const header = new TextEncoder().encode(JSON.stringify({
    shape: set.shape,
    count: set.labels.length,
    labels: Array.from(set.labels),
    paths: set.paths,
  }));
  const pre = new Uint8Array(12);
  pre.set(new TextEncoder().encode(MAGIC));
  new DataView(pre.buffer).setUint32(8, header.length, true);
  const pad = new Uint8Array((4 - ((12 + header.length) % 4)) % 4);
  return [pre, header, pad, new Uint8Array(set.x.buffer, set.x.byteOffset, set.x.byteLength)];
}

function decode(bytes: Uint8Array, path: string): FeatureSet {
  if (new TextDecoder().decode(bytes.subarray(0, 8)) !== MAGIC) {
    throw new Error(`${path}: not a feature cache file`);
  }
  const h = new DataView(bytes.buffer, bytes.byteOffset).getUint32(8, true);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(12, 12 + h)));
  const start = 12 + h + ((4 - ((12 + h) % 4)) % 4);
  const per = (header.shape as number[]).reduce((p, d) => p * d, 1);
  const n = header.count * per;
  if (bytes.length < start + n * 4) throw new Error(`${path}: truncated feature cache`);
  const x = new Float32Array(bytes.slice(start, start + n * 4).buffer);
  return { x, shape: header.shape, labels: Int32Array.from(header.labels), paths: header.paths };
}

/**
 * Features of every file, from the cache when present, else computed batch by batch on
 * `backend` and written to the cache. Returns the set and whether it came from the cache.
 *
 * @example
 * const { set, hit } = await cachedFeatures({ backend, files: ds.train, dir: "runs/cache",
 *   modelHash: await hashModel(onnx, [3, 150, 150]), batches: () => imageBatches(ds.train, { batchSize: 8 }) });
 */
export async function cachedFeatures(
  o: CacheOptions,
): Promise<{ set: FeatureSet; hit: boolean; path: string }> {
  const dataHash = o.dataHash ?? await hashFiles(o.files);
  const path = join(o.dir, `features-${o.modelHash.slice(0, 16)}-${dataHash.slice(0, 16)}.bin`);
  try {
    const set = decode(await Deno.readFile(path), path);
    o.log?.(`features: cache hit ${path} (${set.labels.length} items)`);
    return { set, hit: true, path };
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) {
      o.log?.(`features: ignoring cache ${path}: ${(e as Error).message}`);
    }
  }
  const chunks: Float32Array[] = [];
  const labels: number[] = [];
  const paths: string[] = [];
  let shape: number[] = [];
  for await (const b of o.batches()) {
    const f = await o.backend.run(b.x, b.shape);
    const per = f.length / b.shape[0];
    if (!shape.length) shape = o.itemShape ?? [per, 1, 1];
    chunks.push(f);
    labels.push(...b.labels);
    paths.push(...b.paths);
  }
  const x = new Float32Array(chunks.reduce((s, c) => s + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    x.set(c, at);
    at += c.length;
  }
  const set: FeatureSet = { x, shape, labels: Int32Array.from(labels), paths };
  await Deno.mkdir(o.dir, { recursive: true });
  await writeFileAtomic(path, encode(set));
  o.log?.(`features: computed ${labels.length} items with ${o.backend.kind}, cached in ${path}`);
  return { set, hit: false, path };
}

/**
 * Batches of a feature set for one epoch (shuffled from `seed` and `epoch` when a seed is
 * given), shaped [n, …itemShape] so `TransferNet.forwardHead` takes them directly.
 */
export function featureBatches(
  set: FeatureSet,
  o: { batchSize: number; seed?: number; epoch?: number },
): ReadableStream<Batch> {
  const n = set.labels.length;
  const per = set.shape.reduce((p, d) => p * d, 1);
  const order = Array.from({ length: n }, (_, i) => i);
  if (o.seed !== undefined) {
    const rng = new Rng(deriveSeed(o.seed, "features", o.epoch ?? 0));
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(rng.uniform(0, 1) * (i + 1));
      [order[i], order[j]] = [order[j], order[i]];
    }
  }
  let at = 0;
  return new ReadableStream<Batch>({
    pull(c) {
      if (at >= n) return c.close();
      const idx = order.slice(at, at + o.batchSize);
      at += idx.length;
      const x = new Float32Array(idx.length * per);
      idx.forEach((k, j) => x.set(set.x.subarray(k * per, (k + 1) * per), j * per));
      c.enqueue({
        x,
        shape: [idx.length, ...set.shape] as Batch["shape"],
        labels: Int32Array.from(idx, (k) => set.labels[k]),
        paths: idx.map((k) => set.paths[k]),
      });
    },
  });
}
