/**
 * Tensor payloads: turns a decoded TensorProto record ({@link RawTensor}) into an
 * {@link OnnxTensor} whose `data` is an owned, aligned typed array of the right type —
 * raw_data copied out of the file bytes, 4-bit types unpacked, packed typed fields and
 * int64 halves joined, external data read slice by slice from its file.
 *
 * Memory: raw_data is copied once into a fresh aligned buffer (it is often not 4-byte
 * aligned inside the file) and no view into the file bytes is kept. External data is read
 * straight from its file into the tensor's buffer.
 *
 * Host byte order: ONNX stores little-endian; every platform Deno runs on is
 * little-endian, which this module checks once at load (the typed views below rely on it).
 *
 * @module
 */

import {
  Corrupt,
  DataType,
  dataTypeName,
  type ExternalDataRef,
  OnnxReadError,
  type OnnxTensor,
  type ReadCtx,
  type TensorData,
  tensorSize,
} from "./schema.ts";
import type { Int64Run } from "./field_table.ts";

if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) {
  throw new Error("onnx/read.ts: big-endian hosts are not supported");
}

/**
 * A TensorProto as it comes off the wire (see the TENSOR table in `messages.ts`): its
 * properties are onnx.proto's field names in camelCase; typed fields are kept as the runs
 * they were read in, joined once by {@link finishTensor}. `rawData` is a view into the
 * file bytes and must not outlive the read.
 */
export interface RawTensor {
  /** dims */
  dims: number[];
  /** data_type */
  dataType: number;
  /** float_data, one array per wire field (packed or not). */
  floatData: Float32Array[];
  /** int32_data */
  int32Data: number[];
  /** string_data, UTF-8 decoded. */
  stringData: string[];
  /** int64_data */
  int64Data: Int64Run[];
  /** name */
  name: string;
  /** doc_string */
  docString?: string;
  /** raw_data (a view into the file bytes). */
  rawData?: Uint8Array;
  /** double_data, one array per wire field. */
  doubleData: Float64Array[];
  /** uint64_data */
  uint64Data: Int64Run[];
  /** external_data, key → value. */
  externalData: Record<string, string>;
  /** data_location (1 = EXTERNAL). */
  dataLocation: number;
}

type ArrayType = new (buf: ArrayBuffer) => Exclude<TensorData, string[]>;

/**
 * Per data type: bytes per element in raw_data (0.5 for the 4-bit types) and the typed
 * array its little-endian bytes are viewed as (the 4-bit types: the packed bytes). Not
 * listed (STRING, UNDEFINED, unknown codes): 0 bytes, Uint8Array.
 */
const LAYOUT: Record<number, [bytes: number, view: ArrayType]> = {
  [DataType.FLOAT]: [4, Float32Array],
  [DataType.UINT8]: [1, Uint8Array],
  [DataType.INT8]: [1, Int8Array],
  [DataType.UINT16]: [2, Uint16Array],
  [DataType.INT16]: [2, Int16Array],
  [DataType.INT32]: [4, Int32Array],
  [DataType.INT64]: [8, BigInt64Array],
  [DataType.BOOL]: [1, Uint8Array],
  [DataType.FLOAT16]: [2, Uint16Array], // raw bits
  [DataType.DOUBLE]: [8, Float64Array],
  [DataType.UINT32]: [4, Uint32Array],
  [DataType.UINT64]: [8, BigUint64Array],
  [DataType.COMPLEX64]: [8, Float32Array], // re, im interleaved
  [DataType.COMPLEX128]: [16, Float64Array],
  [DataType.BFLOAT16]: [2, Uint16Array], // raw bits
  [DataType.FLOAT8E4M3FN]: [1, Uint8Array],
  [DataType.FLOAT8E4M3FNUZ]: [1, Uint8Array],
  [DataType.FLOAT8E5M2]: [1, Uint8Array],
  [DataType.FLOAT8E5M2FNUZ]: [1, Uint8Array],
  [DataType.UINT4]: [0.5, Uint8Array],
  [DataType.INT4]: [0.5, Uint8Array],
  [DataType.FLOAT4E2M1]: [0.5, Uint8Array],
};

/** Bytes per element in raw_data (0.5 for 4-bit types; 0 for STRING / unknown). */
function elemBytes(dt: number): number {
  return LAYOUT[dt]?.[0] ?? 0;
}

/** Views an aligned, owned ArrayBuffer as the typed array for `dt`. */
function viewAs(buf: ArrayBuffer, dt: number): TensorData {
  return new (LAYOUT[dt]?.[1] ?? Uint8Array)(buf);
}

function isFourBit(dt: number): boolean {
  return dt === DataType.UINT4 || dt === DataType.INT4 || dt === DataType.FLOAT4E2M1;
}

/** Unpacks 4-bit elements (low nibble first) into one element per byte. */
function unpack4(packed: Uint8Array, n: number, signed: boolean): Int8Array | Uint8Array {
  const out = signed ? new Int8Array(n) : new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    let v = (packed[i >> 1] >> ((i & 1) * 4)) & 0xf;
    if (signed && v >= 8) v -= 16;
    out[i] = v;
  }
  return out;
}

/** Element count of the data array for `n` logical elements (complex: two per element). */
function storedCount(dt: number, n: number): number {
  return dt === DataType.COMPLEX64 || dt === DataType.COMPLEX128 ? 2 * n : n;
}

/** `tensor 'name' (FLOAT [2,3])`, for messages. */
export function describe(t: { name: string; dims: number[]; dataType: number }): string {
  return `tensor '${t.name}' (${dataTypeName(t.dataType)} [${t.dims.join(",")}])`;
}

/** Copies raw little-endian bytes into an owned typed array of the right type. */
function fromRaw(raw: Uint8Array, t: { name: string; dims: number[]; dataType: number }) {
  const dt = t.dataType;
  const n = tensorSize(t.dims);
  const eb = elemBytes(dt);
  if (eb === 0) {
    throw new Corrupt(`${describe(t)} has raw_data, which this data type cannot use`);
  }
  const want = Math.ceil(n * eb);
  if (raw.length !== want) {
    throw new Corrupt(`${describe(t)}: raw_data has ${raw.length} bytes, expected ${want}`);
  }
  if (isFourBit(dt)) return unpack4(raw, n, dt === DataType.INT4);
  // slice() copies into a fresh, aligned ArrayBuffer.
  return viewAs(raw.slice().buffer, dt);
}

/** Joins typed runs into one array (the run itself when there is only one). */
function concat<T extends Float32Array | Float64Array>(
  chunks: T[],
  make: (n: number) => T,
): T {
  if (chunks.length === 1) return chunks[0];
  let n = 0;
  for (const c of chunks) n += c.length;
  const out = make(n);
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
  }
  return out;
}

/** Joins int64 runs into one 64-bit typed array (the halves are copied as they are). */
function int64FromChunks(chunks: Int64Run[], unsigned: boolean): BigInt64Array | BigUint64Array {
  let n = 0;
  for (const c of chunks) n += c.count;
  const out = unsigned ? new BigUint64Array(n) : new BigInt64Array(n);
  const u32 = new Uint32Array(out.buffer);
  let o = 0;
  for (const c of chunks) {
    u32.set(c.halves, o);
    o += c.halves.length;
  }
  return out;
}

/** Turns typed fields into the data array for the tensor's type. */
function fromTypedFields(t: RawTensor): TensorData {
  const dt = t.dataType;
  switch (dt) {
    case DataType.FLOAT:
    case DataType.COMPLEX64:
      return concat(t.floatData, (n) => new Float32Array(n));
    case DataType.DOUBLE:
    case DataType.COMPLEX128:
      return concat(t.doubleData, (n) => new Float64Array(n));
    case DataType.INT64:
      return int64FromChunks(t.int64Data, false);
    case DataType.UINT64:
      return int64FromChunks(t.uint64Data, true);
    case DataType.UINT32: {
      // uint64_data holds UINT32 values; each fits in its low half.
      const lows: number[] = [];
      for (const c of t.uint64Data) {
        for (let i = 0; i < c.count; i++) lows.push(c.halves[2 * i]);
      }
      return Uint32Array.from(lows);
    }
    case DataType.STRING:
      return t.stringData;
    case DataType.INT32:
      return Int32Array.from(t.int32Data);
    case DataType.INT16:
      return Int16Array.from(t.int32Data);
    case DataType.INT8:
      return Int8Array.from(t.int32Data);
    case DataType.UINT16:
    case DataType.FLOAT16:
    case DataType.BFLOAT16:
      return Uint16Array.from(t.int32Data);
    case DataType.UINT4:
    case DataType.INT4:
    case DataType.FLOAT4E2M1: {
      // int32_data holds the packed bytes, one per int32 element.
      const n = tensorSize(t.dims);
      return unpack4(Uint8Array.from(t.int32Data), n, dt === DataType.INT4);
    }
    default: // UINT8, BOOL, FLOAT8*
      return Uint8Array.from(t.int32Data);
  }
}

function externalPath(ctx: ReadCtx, location: string, tensor: string): string {
  if (!ctx.baseDir) {
    throw new OnnxReadError(
      ctx.file,
      "external-data",
      `tensor '${tensor}' keeps its data in external file '${location}'; ` +
        `read the model with readOnnxFile(path) or pass options.baseDir`,
    );
  }
  if (
    location.startsWith("/") || /^[A-Za-z]:[\\/]/.test(location) || /(^|[\\/])\.\.([\\/]|$)/
      .test(location)
  ) {
    throw new OnnxReadError(
      ctx.file,
      "external-data",
      `tensor '${tensor}': external data location '${location}' must be a relative path ` +
        `inside the model's directory`,
    );
  }
  return `${ctx.baseDir.replace(/[\\/]+$/, "")}/${location}`;
}

/** Reads [offset, offset+length) of a file into a fresh buffer. */
function readSlice(path: string, offset: number, length: number | undefined): Uint8Array {
  const f = Deno.openSync(path, { read: true });
  try {
    const size = f.statSync().size;
    const len = length ?? size - offset;
    if (offset + len > size) {
      throw new Corrupt(
        `external file '${path}' has ${size} bytes, tensor needs bytes ${offset}..${offset + len}`,
      );
    }
    const out = new Uint8Array(len);
    f.seekSync(offset, Deno.SeekMode.Start);
    let got = 0;
    while (got < len) {
      const n = f.readSync(out.subarray(got));
      if (n === null || n === 0) throw new Corrupt(`external file '${path}' ended early`);
      got += n;
    }
    return out;
  } finally {
    f.close();
  }
}

function loadExternal(t: RawTensor, ctx: ReadCtx): { data: TensorData; ref: ExternalDataRef } {
  const location = t.externalData["location"];
  if (!location) throw new Corrupt(`${describe(t)} is EXTERNAL but has no 'location'`);
  const offset = t.externalData["offset"] ? Number(t.externalData["offset"]) : 0;
  const lengthStr = t.externalData["length"];
  const length = lengthStr ? Number(lengthStr) : undefined;
  if (!Number.isSafeInteger(offset) || offset < 0 || (length !== undefined && !(length >= 0))) {
    throw new Corrupt(`${describe(t)}: bad external offset/length`);
  }
  const n = tensorSize(t.dims);
  const expected = Math.ceil(n * elemBytes(t.dataType));
  const ref = { location, offset, length: length ?? expected };
  if (!ctx.loadExternal) return { data: viewAs(new ArrayBuffer(0), t.dataType), ref };
  const path = externalPath(ctx, location, t.name);
  let bytes: Uint8Array;
  try {
    bytes = readSlice(path, offset, length ?? expected);
  } catch (e) {
    if (e instanceof Corrupt) {
      throw new OnnxReadError(ctx.file, "external-data", `${describe(t)}: ${e.message}`);
    }
    throw new OnnxReadError(
      ctx.file,
      "external-data",
      `${describe(t)}: cannot read external data '${path}': ${(e as Error).message}`,
    );
  }
  if (isFourBit(t.dataType) || bytes.length !== expected) {
    return { data: fromRaw(bytes, t), ref }; // validates length, unpacks 4-bit
  }
  return { data: viewAs(bytes.buffer as ArrayBuffer, t.dataType), ref };
}

/**
 * Builds the {@link OnnxTensor} of a decoded TensorProto: checks type and dims, then takes
 * the payload from external data, raw_data or the typed fields, in that order.
 */
export function finishTensor(t: RawTensor, ctx: ReadCtx): OnnxTensor {
  if (!Number.isInteger(t.dataType) || t.dataType <= 0) {
    throw new Corrupt(`tensor '${t.name}' has data type ${t.dataType}`);
  }
  for (const d of t.dims) {
    if (!Number.isSafeInteger(d) || d < 0) {
      throw new Corrupt(`tensor '${t.name}' has dimension ${d}`);
    }
  }
  const out: OnnxTensor = { name: t.name, dims: t.dims, dataType: t.dataType, data: [] };
  if (t.docString) out.docString = t.docString;
  if (t.dataLocation === 1) {
    const { data, ref } = loadExternal(t, ctx);
    out.data = data;
    out.external = ref;
    return out;
  }
  if (t.rawData !== undefined) {
    out.data = fromRaw(t.rawData, t);
    return out;
  }
  const data = fromTypedFields(t);
  const n = tensorSize(t.dims);
  const want = storedCount(t.dataType, n);
  if (data.length !== want) {
    throw new Corrupt(`${describe(t)} has ${data.length} values, expected ${want}`);
  }
  out.data = data;
  return out;
}
