/**
 * ONNX reader: protobuf bytes → a typed graph (nodes, attributes, initializers, inputs,
 * outputs, opsets), plus `readTensorProto` for the `.pb` tensors of ONNX's test vectors.
 * The entry points live here; the pieces are `schema.ts` (the decoded types and
 * {@link OnnxReadError}), `messages.ts` (one field table per protobuf message, decoded by
 * `field_table.ts`), `tensor_data.ts` (tensor payloads, external data) and `attrs.ts`
 * (attribute helpers), all re-exported from here.
 *
 * Memory: the file is read once; every tensor's payload is then copied out of it into its
 * own aligned typed array (raw_data is often not 4-byte aligned inside the file) and no
 * view into the file bytes is kept, so the file buffer can be collected as soon as the
 * read returns. Peak: the file plus the decoded weights, about two copies of the weights.
 * External data is read slice by slice straight from its file into the tensor's buffer.
 *
 * Host byte order: ONNX stores little-endian; every platform Deno runs on is
 * little-endian, which `tensor_data.ts` checks once at load.
 *
 * @module
 */

import { decodeMessage, fieldWire } from "./field_table.ts";
import { decodeTensorRaw, MODEL } from "./messages.ts";
import { ProtoError, ProtoReader } from "./proto.ts";
import {
  Corrupt,
  DataType,
  type OnnxModel,
  OnnxReadError,
  type OnnxTensor,
  type OpsetId,
  type ReadCtx,
  type ReadOptions,
} from "./schema.ts";
import { describe, finishTensor } from "./tensor_data.ts";

export {
  type AttrValue,
  DataType,
  dataTypeName,
  type ExternalDataRef,
  type OnnxDim,
  type OnnxFunction,
  type OnnxGraph,
  type OnnxModel,
  type OnnxNode,
  OnnxReadError,
  type OnnxReadErrorKind,
  type OnnxSparseTensor,
  type OnnxTensor,
  type OnnxType,
  type OpsetId,
  type ReadOptions,
  type TensorData,
  tensorSize,
  type ValueInfo,
} from "./schema.ts";
export { attrFloat, attrInt, attrInts, attrString, attrTensor } from "./attrs.ts";

// ---------------------------------------------------------------------------------------
// Model

/** True when the bytes start like a ModelProto (ONNX writers put ir_version first). */
function looksLikeModel(bytes: Uint8Array): boolean {
  if (bytes.length < 2) return false;
  const r = new ProtoReader(bytes);
  try {
    if (!r.tag()) return false;
    const want = fieldWire(MODEL, r.field);
    if (want === undefined || want !== r.wire) return false;
    if (r.field === 1) {
      const v = r.int64();
      return v >= 1 && v <= 64;
    }
    return true;
  } catch {
    return false;
  }
}

function wrap(e: unknown, ctx: ReadCtx, top: boolean, looksOk: boolean): OnnxReadError {
  if (e instanceof OnnxReadError) return e;
  if (e instanceof ProtoError) {
    if (!looksOk) {
      return new OnnxReadError(ctx.file, "not-onnx", `not an ONNX model (${e.message})`);
    }
    if (e.truncated && top) {
      return new OnnxReadError(ctx.file, "truncated", `truncated ONNX file (${e.message})`);
    }
    return new OnnxReadError(ctx.file, "corrupt", `corrupt ONNX data (${e.message})`);
  }
  if (e instanceof Corrupt) {
    return new OnnxReadError(ctx.file, "corrupt", `corrupt ONNX data: ${e.message}`);
  }
  const msg = e instanceof Error ? e.message : String(e);
  return new OnnxReadError(ctx.file, "corrupt", `cannot decode: ${msg}`);
}

function makeCtx(options?: ReadOptions): ReadCtx {
  return {
    file: options?.name ?? "<bytes>",
    baseDir: options?.baseDir,
    loadExternal: options?.loadExternal ?? true,
  };
}

/**
 * Walks the top level of a ModelProto without decoding anything nested: a field the MODEL
 * table lists with the wrong wire type means the bytes are not a model, and a field that
 * runs past the end means the file is cut off (reported before any nested decoding).
 */
function checkTopLevel(bytes: Uint8Array, ctx: ReadCtx): void {
  const r = new ProtoReader(bytes);
  try {
    while (r.tag()) {
      const want = fieldWire(MODEL, r.field);
      if (want !== undefined && want !== r.wire) {
        throw new OnnxReadError(
          ctx.file,
          "not-onnx",
          `not an ONNX model (top-level field ${r.field} has the wrong wire type at byte ${r.tagOffset})`,
        );
      }
      r.skip();
    }
  } catch (e) {
    throw wrap(e, ctx, true, true);
  }
}

/**
 * Parses ModelProto bytes. Throws {@link OnnxReadError} (one line, naming `options.name`)
 * for a truncated file, bytes that are not an ONNX model, or corrupt contents. External
 * data is read relative to `options.baseDir`.
 */
export function readOnnx(bytes: Uint8Array, options?: ReadOptions): OnnxModel {
  const ctx = makeCtx(options);
  if (bytes.length === 0) {
    throw new OnnxReadError(ctx.file, "not-onnx", "empty file, not an ONNX model");
  }
  if (!looksLikeModel(bytes)) {
    throw new OnnxReadError(
      ctx.file,
      "not-onnx",
      `not an ONNX model (the bytes do not start with a ModelProto header)`,
    );
  }
  // Pass 1: the top level only, so a cut-off file is reported as truncated before any
  // nested decoding; pass 2 decodes the fields.
  checkTopLevel(bytes, ctx);
  let m: OnnxModel;
  try {
    m = decodeMessage(new ProtoReader(bytes), MODEL, ctx);
  } catch (e) {
    throw wrap(e, ctx, false, true);
  }
  if (m.graph === undefined) {
    throw new OnnxReadError(
      ctx.file,
      "not-onnx",
      "no graph in the file: not an ONNX model, or the file is truncated",
    );
  }
  if (m.opsetImport.length === 0 && m.irVersion >= 3) {
    throw new OnnxReadError(
      ctx.file,
      "truncated",
      "no opset_import after the graph: the file is truncated or incomplete",
    );
  }
  return m;
}

// ---------------------------------------------------------------------------------------
// Files

function dirOf(path: string): string {
  const i = Math.max(path.lastIndexOf("/"), path.lastIndexOf("\\"));
  return i < 0 ? "." : i === 0 ? "/" : path.slice(0, i);
}

function ioError(path: string, e: unknown): OnnxReadError {
  const why = e instanceof Deno.errors.NotFound ? "no such file" : (e as Error).message;
  return new OnnxReadError(path, "io", `cannot read: ${why}`);
}

const CHUNK = 64 << 20;

/**
 * Fills one buffer of exactly `size` bytes, at most {@link CHUNK} per read: yields the
 * part to read into next and is sent the byte count read (null at the end of the file);
 * returns the bytes read. Shared by the async and the sync whole-file read.
 */
function* fillChunks(size: number): Generator<Uint8Array, Uint8Array, number | null> {
  const buf = new Uint8Array(size);
  let got = 0;
  while (got < size) {
    const n = yield buf.subarray(got, Math.min(size, got + CHUNK));
    if (n === null) break;
    got += n;
  }
  return got === size ? buf : buf.subarray(0, got);
}

/**
 * Reads a whole file into one buffer of exactly its size (faster than Deno.readFile for
 * large files here, and never holds more than the one buffer).
 */
async function readWhole(path: string): Promise<Uint8Array> {
  const f = await Deno.open(path, { read: true }).catch((e) => Promise.reject(ioError(path, e)));
  try {
    const fill = fillChunks((await f.stat()).size);
    let step = fill.next();
    while (!step.done) step = fill.next(await f.read(step.value));
    return step.value;
  } catch (e) {
    throw ioError(path, e);
  } finally {
    f.close();
  }
}

/** Synchronous {@link readWhole}. */
function readWholeSync(path: string): Uint8Array {
  let f: Deno.FsFile;
  try {
    f = Deno.openSync(path, { read: true });
  } catch (e) {
    throw ioError(path, e);
  }
  try {
    const fill = fillChunks(f.statSync().size);
    let step = fill.next();
    while (!step.done) step = fill.next(f.readSync(step.value));
    return step.value;
  } catch (e) {
    throw ioError(path, e);
  } finally {
    f.close();
  }
}

/**
 * Reads and parses an ONNX model file; external data is read from the file's directory.
 * Errors are {@link OnnxReadError}s whose message starts with `path`.
 */
export async function readOnnxFile(
  path: string,
  options?: Omit<ReadOptions, "name">,
): Promise<OnnxModel> {
  const bytes = await readWhole(path);
  return readOnnx(bytes, { baseDir: dirOf(path), ...options, name: path });
}

/** Synchronous {@link readOnnxFile}. */
export function readOnnxFileSync(path: string, options?: Omit<ReadOptions, "name">): OnnxModel {
  return readOnnx(readWholeSync(path), { baseDir: dirOf(path), ...options, name: path });
}

/**
 * Parses one serialized TensorProto (the `input_0.pb` / `output_0.pb` files of ONNX's test
 * vectors). Throws {@link OnnxReadError} naming `options.name` when the bytes are not one.
 */
export function readTensorProto(bytes: Uint8Array, options?: ReadOptions): OnnxTensor {
  const ctx = makeCtx(options);
  try {
    const t = decodeTensorRaw(new ProtoReader(bytes), ctx);
    if (t.dataType === 0) {
      throw new OnnxReadError(ctx.file, "not-onnx", "not a TensorProto (no data_type)");
    }
    return finishTensor(t, ctx);
  } catch (e) {
    if (e instanceof OnnxReadError) throw e;
    if (e instanceof ProtoError) {
      const kind = e.truncated ? "truncated" : "not-onnx";
      const what = e.truncated ? "truncated TensorProto" : "not a TensorProto";
      throw new OnnxReadError(ctx.file, kind, `${what} (${e.message})`);
    }
    throw wrap(e, ctx, false, true);
  }
}

/** Reads a TensorProto file (external data relative to its directory). */
export async function readTensorProtoFile(path: string): Promise<OnnxTensor> {
  const bytes = await readWhole(path);
  return readTensorProto(bytes, { name: path, baseDir: dirOf(path) });
}

// ---------------------------------------------------------------------------------------
// Helpers for consumers

/** The opset version a model imports for `domain` (default: the ONNX domain), or 0. */
export function opsetVersion(model: { opsetImport: OpsetId[] }, domain = ""): number {
  const d = domain === "ai.onnx" ? "" : domain;
  return model.opsetImport.find((o) => o.domain === d)?.version ?? 0;
}

/** Converts an IEEE half-precision bit pattern to a number. */
export function float16ToNumber(bits: number): number {
  const s = bits & 0x8000 ? -1 : 1;
  const e = (bits >> 10) & 0x1f;
  const f = bits & 0x3ff;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f ? NaN : s * Infinity;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}

/**
 * A numeric tensor's elements as a new Float32Array (FLOAT16 and BFLOAT16 bits decoded,
 * integers and doubles converted). Throws for STRING and complex tensors.
 */
export function toFloat32(t: OnnxTensor): Float32Array {
  const d = t.data;
  if (Array.isArray(d) || t.dataType === DataType.COMPLEX64 || t.dataType === DataType.COMPLEX128) {
    throw new Error(`toFloat32: ${describe(t)} is not a real numeric tensor`);
  }
  if (t.dataType === DataType.FLOAT16) {
    return Float32Array.from(d as Uint16Array, float16ToNumber);
  }
  if (t.dataType === DataType.BFLOAT16) {
    const u32 = new Uint32Array(d.length);
    (d as Uint16Array).forEach((b, i) => (u32[i] = b << 16));
    return new Float32Array(u32.buffer);
  }
  if (d instanceof BigInt64Array || d instanceof BigUint64Array) {
    return Float32Array.from(d as ArrayLike<bigint>, (x) => Number(x));
  }
  return Float32Array.from(d as ArrayLike<number>);
}
