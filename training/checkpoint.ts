/**
 * Checkpoints: everything a run needs to continue exactly (weights, optimizer state,
 * epoch, step, every generator's state, the class-to-index map, hyper-parameters, best
 * scores), in one binary-safe file written atomically: a temporary file in the same
 * folder, fsync, rename over the final name, fsync of the folder. A crash at any moment
 * leaves either the previous checkpoint or the new one under the final name, never half.
 *
 * Layout (little-endian):
 *   0  "WGCKPT01"                       magic and version
 *   8  uint32 header byte length H
 *   12 uint32 CRC-32C of the header
 *   16 header: UTF-8 JSON              typed arrays replaced by {"$blob": i}
 *   …  zero padding to a multiple of 8
 *   …  blob i at header.blobs[i].offset (float32 and other typed arrays, 8-aligned)
 *   end-8 uint32 CRC-32C of everything from the end of the header to here, "DONE"
 * Non-finite numbers in the JSON parts (e.g. a best score of -Infinity) survive as
 * {"$num": "-Infinity"}.
 */
import { basename, dirname, join } from "node:path";
import { crc32c } from "../stages/log/crc32c.ts";
import { type AtomicWriteOptions, removeStaleTemps, writeFileAtomic } from "../stages/atomic.ts";
import type { StateDict } from "../core/nn/module.ts";
import type { HValue } from "../stages/evaluate.ts";

/** Everything saved for a run. */
export interface Checkpoint {
  /** Model parameters and buffers by dotted name. */
  weights: StateDict;
  /** The optimizer's state: any JSON-able value that may hold typed arrays. */
  optimizer?: unknown;
  /** Epochs completed. */
  epoch: number;
  /** Optimizer steps taken. */
  step: number;
  /** Every generator's state by name (`Rng.state()`). */
  rng: Record<string, number[]>;
  /** Class name → index. */
  classes: Record<string, number>;
  /** The run's hyper-parameters. */
  hparams: Record<string, HValue>;
  /** Best scores so far (e.g. `{ epoch: 3, TestAccuracy: 0.91 }`). */
  best?: Record<string, number>;
  /** Anything else JSON-able (typed arrays allowed), e.g. early-stopping state. */
  extra?: unknown;
  /**
   * The model's frozen parameters, which `weights` leaves out: their names and a SHA-256
   * of their values (training/frozen.ts). Absent in checkpoints that hold every parameter.
   */
  frozen?: { names: string[]; sha256: string };
}

/** File name of the latest checkpoint in a run folder. */
export const LAST = "last.ckpt";
/** File name of the best epoch's checkpoint in a run folder. */
export const BEST = "best.ckpt";

const MAGIC = "WGCKPT01";
const TYPED = {
  float32: Float32Array,
  float64: Float64Array,
  int32: Int32Array,
  uint32: Uint32Array,
  uint8: Uint8Array,
} as const;
type DType = keyof typeof TYPED;
type Typed =
  | Float32Array<ArrayBufferLike>
  | Float64Array<ArrayBufferLike>
  | Int32Array<ArrayBufferLike>
  | Uint32Array<ArrayBufferLike>
  | Uint8Array<ArrayBufferLike>;

interface BlobInfo {
  dtype: DType;
  offset: number;
  length: number;
}

if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) {
  throw new Error("checkpoint: big-endian machines are not supported");
}

function dtypeOf(v: unknown): DType | undefined {
  for (const [k, T] of Object.entries(TYPED)) if (v instanceof T) return k as DType;
  return undefined;
}

/** Replaces typed arrays by blob references and non-finite numbers by tags. */
function toJson(v: unknown, blobs: Typed[]): unknown {
  if (typeof v === "number") return Number.isFinite(v) ? v : { $num: String(v) };
  if (v === null || typeof v !== "object") return v;
  if (dtypeOf(v)) {
    blobs.push(v as Typed);
    return { $blob: blobs.length - 1 };
  }
  if (Array.isArray(v)) return v.map((x) => toJson(x, blobs));
  if (ArrayBuffer.isView(v)) throw new Error(`checkpoint: unsupported typed array`);
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) if (x !== undefined) out[k] = toJson(x, blobs);
  return out;
}

function fromJson(v: unknown, blobs: Typed[]): unknown {
  if (v === null || typeof v !== "object") return v;
  if (Array.isArray(v)) return v.map((x) => fromJson(x, blobs));
  const o = v as Record<string, unknown>;
  const keys = Object.keys(o);
  if (keys.length === 1 && keys[0] === "$blob") return blobs[o.$blob as number];
  if (keys.length === 1 && keys[0] === "$num") return Number(o.$num);
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(o)) out[k] = fromJson(x, blobs);
  return out;
}

const pad8 = (n: number) => (n + 7) & ~7;

/** Encodes a checkpoint as the byte chunks of the file, in order (blobs are not copied). */
export function encodeCheckpoint(ckpt: Checkpoint): Uint8Array[] {
  const blobs: Typed[] = [];
  const weights = Object.entries(ckpt.weights).map(([name, e]) => {
    if (!(e.data instanceof Float32Array)) throw new Error(`checkpoint: ${name} is not float32`);
    blobs.push(e.data);
    return { name, shape: e.shape, blob: blobs.length - 1 };
  });
  const { weights: _w, ...rest } = ckpt;
  const meta = toJson(rest, blobs);
  const infos: BlobInfo[] = [];
  const header = (start: number) => {
    infos.length = 0;
    let off = start;
    for (const b of blobs) {
      infos.push({ dtype: dtypeOf(b)!, offset: off, length: b.length });
      off = pad8(off + b.byteLength);
    }
    const text = JSON.stringify({ version: 1, meta, weights, blobs: infos, end: off });
    return new TextEncoder().encode(text);
  };
  // The header holds blob offsets that depend on its own length: iterate until stable.
  let h = header(0);
  for (let start = pad8(16 + h.length), k = 0;; k++) {
    h = header(start);
    const next = pad8(16 + h.length);
    if (next === start) break;
    if (k > 8) throw new Error("checkpoint: header did not settle");
    start = next;
  }
  const pre = new Uint8Array(pad8(16 + h.length));
  pre.set(new TextEncoder().encode(MAGIC));
  const dv = new DataView(pre.buffer);
  dv.setUint32(8, h.length, true);
  dv.setUint32(12, crc32c(h), true);
  pre.set(h, 16);
  const parts: Uint8Array[] = [pre.subarray(0, 16 + h.length), pre.subarray(16 + h.length)];
  let crc = crc32c(parts[1]);
  for (const b of blobs) {
    const bytes = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
    const padding = new Uint8Array(pad8(b.byteLength) - b.byteLength);
    crc = crc32c(padding, crc32c(bytes, crc));
    parts.push(bytes, padding);
  }
  const trailer = new Uint8Array(8);
  new DataView(trailer.buffer).setUint32(0, crc, true);
  trailer.set(new TextEncoder().encode("DONE"), 4);
  parts.push(trailer);
  return parts.filter((p) => p.length);
}

/** Decodes a checkpoint file's bytes; throws on a truncated or corrupted file. */
export function decodeCheckpoint(bytes: Uint8Array, what = "checkpoint"): Checkpoint {
  const bad = (why: string) => new Error(`${what}: not a valid checkpoint (${why})`);
  if (bytes.length < 24 || new TextDecoder().decode(bytes.subarray(0, 8)) !== MAGIC) {
    throw bad("bad magic");
  }
  if (bytes.byteOffset % 8) bytes = bytes.slice();
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const hlen = dv.getUint32(8, true);
  const h = bytes.subarray(16, 16 + hlen);
  if (h.length !== hlen || crc32c(h) !== dv.getUint32(12, true)) throw bad("header CRC");
  const header = JSON.parse(new TextDecoder().decode(h)) as {
    version: number;
    meta: Record<string, unknown>;
    weights: { name: string; shape: number[]; blob: number }[];
    blobs: BlobInfo[];
    end: number;
  };
  if (header.version !== 1) throw bad(`version ${header.version}`);
  if (bytes.length !== header.end + 8) {
    throw bad(`${bytes.length} bytes, expected ${header.end + 8}: truncated?`);
  }
  const tail = bytes.subarray(header.end);
  if (new TextDecoder().decode(tail.subarray(4)) !== "DONE") throw bad("no trailer");
  if (crc32c(bytes.subarray(16 + hlen, header.end)) !== dv.getUint32(header.end, true)) {
    throw bad("data CRC");
  }
  const blobs = header.blobs.map((b) =>
    new TYPED[b.dtype](bytes.buffer as ArrayBuffer, bytes.byteOffset + b.offset, b.length)
  );
  const weights: StateDict = {};
  for (const w of header.weights) {
    weights[w.name] = { shape: w.shape, data: blobs[w.blob] as Float32Array };
  }
  return { ...(fromJson(header.meta, blobs) as Omit<Checkpoint, "weights">), weights };
}

/** Writes a checkpoint atomically to `path` (see the module comment). */
export async function saveCheckpoint(
  path: string,
  ckpt: Checkpoint,
  opts: AtomicWriteOptions = {},
): Promise<void> {
  await Deno.mkdir(dirname(path), { recursive: true });
  await writeFileAtomic(path, encodeCheckpoint(ckpt), opts);
}

/** Reads a checkpoint file; the error names the file when it is missing or damaged. */
export async function loadCheckpoint(path: string): Promise<Checkpoint> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) throw new Error(`no checkpoint at ${path}`);
    throw e;
  }
  return decodeCheckpoint(bytes, path);
}

/**
 * Saves `last.ckpt` in a run folder and, when `isBest`, the same bytes as `best.ckpt`
 * (each written atomically). Stale temporary files of killed writers are removed first.
 * `best.ckpt` goes first: a write stopped in between (SIGKILL, a full disk) then leaves
 * last.ckpt one epoch behind, and resuming replays that epoch and writes both again; the
 * other order would leave a last.ckpt that calls this epoch best beside a best.ckpt that
 * holds an older one, for good.
 */
export async function saveRunCheckpoint(
  runDir: string,
  ckpt: Checkpoint,
  isBest: boolean,
): Promise<void> {
  await Deno.mkdir(runDir, { recursive: true });
  await removeStaleTemps(runDir);
  const chunks = encodeCheckpoint(ckpt);
  if (isBest) await writeFileAtomic(join(runDir, BEST), chunks);
  await writeFileAtomic(join(runDir, LAST), chunks);
}

/**
 * The checkpoint file a `--resume`/`--model` argument names: a file as it is, or a run
 * folder's `last.ckpt` (or `best.ckpt` with `which: "best"`).
 */
export async function resolveCheckpoint(
  pathOrDir: string,
  which: "last" | "best" = "last",
): Promise<string> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(pathOrDir);
  } catch {
    throw new Error(`no checkpoint or run folder at ${pathOrDir}`);
  }
  if (info.isFile) return pathOrDir;
  const file = join(pathOrDir, which === "best" ? BEST : LAST);
  try {
    await Deno.stat(file);
  } catch {
    throw new Error(`run folder ${pathOrDir} has no ${basename(file)}`);
  }
  return file;
}
