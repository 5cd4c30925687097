/**
 * ONNX reader: protobuf bytes → a typed graph (nodes, attributes, initializers, inputs,
 * outputs, opsets), plus `readTensorProto` for the `.pb` tensors of ONNX's test vectors.
 *
 * Memory: the file is read once; every tensor's payload is then copied out of it into its
 * own aligned typed array (raw_data is often not 4-byte aligned inside the file) and no
 * view into the file bytes is kept, so the file buffer can be collected as soon as the
 * read returns. Peak: the file plus the decoded weights, about two copies of the weights.
 * External data is read slice by slice straight from its file into the tensor's buffer.
 *
 * Host byte order: ONNX stores little-endian; every platform Deno runs on is
 * little-endian, which this module checks once at load.
 *
 * @module
 */

import {
  packedFloat32,
  ProtoError,
  ProtoReader,
  WIRE_FIXED32,
  WIRE_LEN,
  WIRE_VARINT,
} from "./proto.ts";

if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) {
  throw new Error("onnx/read.ts: big-endian hosts are not supported");
}

/** ONNX `TensorProto.DataType` codes. */
export const DataType = {
  UNDEFINED: 0,
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  UINT16: 4,
  INT16: 5,
  INT32: 6,
  INT64: 7,
  STRING: 8,
  BOOL: 9,
  FLOAT16: 10,
  DOUBLE: 11,
  UINT32: 12,
  UINT64: 13,
  COMPLEX64: 14,
  COMPLEX128: 15,
  BFLOAT16: 16,
  FLOAT8E4M3FN: 17,
  FLOAT8E4M3FNUZ: 18,
  FLOAT8E5M2: 19,
  FLOAT8E5M2FNUZ: 20,
  UINT4: 21,
  INT4: 22,
  FLOAT4E2M1: 23,
} as const;

const DATA_TYPE_NAMES: string[] = [];
for (const [k, v] of Object.entries(DataType)) DATA_TYPE_NAMES[v] = k;

/** Name of an ONNX data type code (`1` → `"FLOAT"`), or `"DataType(n)"` if unknown. */
export function dataTypeName(dataType: number): string {
  return DATA_TYPE_NAMES[dataType] ?? `DataType(${dataType})`;
}

/**
 * A tensor's elements. By data type: FLOAT, COMPLEX64 (interleaved re/im) → Float32Array;
 * DOUBLE, COMPLEX128 → Float64Array; INT8, INT4 → Int8Array; UINT8, BOOL (0/1), FLOAT8*,
 * UINT4, FLOAT4E2M1 → Uint8Array (4-bit types unpacked, one element per byte); INT16 →
 * Int16Array; UINT16 → Uint16Array; FLOAT16, BFLOAT16 → Uint16Array of raw bits (see
 * {@link toFloat32}); INT32 → Int32Array; UINT32 → Uint32Array; INT64 → BigInt64Array;
 * UINT64 → BigUint64Array; STRING → string[] (UTF-8 decoded).
 */
export type TensorData =
  | Float32Array
  | Float64Array
  | Int8Array
  | Uint8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | BigInt64Array
  | BigUint64Array
  | string[];

/** Where an external tensor's bytes came from (`data_location = EXTERNAL`). */
export interface ExternalDataRef {
  /** File path relative to the model's directory, as written in the model. */
  location: string;
  /** Byte offset in that file. */
  offset: number;
  /** Byte length (the tensor's size when the model omits it). */
  length: number;
}

/** A decoded TensorProto. `data` owns its buffer (never a view into the file). */
export interface OnnxTensor {
  /** Tensor name (may be empty in `.pb` files). */
  name: string;
  /** Shape; `[]` for a scalar. */
  dims: number[];
  /** ONNX data type code, see {@link DataType}. */
  dataType: number;
  /** The elements, row-major; see {@link TensorData} for the array type per data type. */
  data: TensorData;
  /** Set when the data came from an external file. */
  external?: ExternalDataRef;
  /** The proto's doc_string, when present. */
  docString?: string;
}

/** A decoded SparseTensorProto (COO: `indices` is [NNZ, rank] or linearized [NNZ]). */
export interface OnnxSparseTensor {
  /** Non-zero values, shape [NNZ]. */
  values: OnnxTensor;
  /** INT64 indices. */
  indices: OnnxTensor;
  /** Dense shape. */
  dims: number[];
}

/** One dimension of a tensor type: a size, a symbolic name, or `null` when unknown. */
export type OnnxDim = number | string | null;

/** A decoded TypeProto. `shape` is absent when the rank is unknown. */
export type OnnxType =
  | { kind: "tensor"; elemType: number; shape?: OnnxDim[] }
  | { kind: "sparse_tensor"; elemType: number; shape?: OnnxDim[] }
  | { kind: "sequence"; elemType: OnnxType }
  | { kind: "map"; keyType: number; valueType: OnnxType }
  | { kind: "optional"; elemType: OnnxType }
  | { kind: "opaque"; domain: string; name: string }
  | { kind: "unknown" };

/** A graph input, output or value_info entry. */
export interface ValueInfo {
  /** Value name. */
  name: string;
  /** Declared type, when present. */
  type?: OnnxType;
  /** The proto's doc_string, when present. */
  docString?: string;
}

/**
 * An attribute value, tagged with its ONNX AttributeType name. INT/INTS are int64 in the
 * file, read as numbers (exact up to 2^53; e.g. INT64_MAX becomes 9223372036854775807 as the
 * nearest double). STRING/STRINGS are UTF-8 decoded. `refAttrName` is set inside function
 * bodies when the attribute refers to one of the function's own attributes.
 */
export type AttrValue =
  & { refAttrName?: string }
  & (
    | { type: "FLOAT"; value: number }
    | { type: "INT"; value: number }
    | { type: "STRING"; value: string }
    | { type: "TENSOR"; value: OnnxTensor }
    | { type: "GRAPH"; value: OnnxGraph }
    | { type: "FLOATS"; value: number[] }
    | { type: "INTS"; value: number[] }
    | { type: "STRINGS"; value: string[] }
    | { type: "TENSORS"; value: OnnxTensor[] }
    | { type: "GRAPHS"; value: OnnxGraph[] }
    | { type: "SPARSE_TENSOR"; value: OnnxSparseTensor }
    | { type: "SPARSE_TENSORS"; value: OnnxSparseTensor[] }
    | { type: "TYPE_PROTO"; value: OnnxType }
    | { type: "TYPE_PROTOS"; value: OnnxType[] }
    | { type: "UNDEFINED"; value: undefined }
  );

/** A graph node (NodeProto). */
export interface OnnxNode {
  /** Node name (may be empty). */
  name: string;
  /** Operator name, e.g. `"Conv"`. */
  opType: string;
  /** Operator domain; `""` is the default ONNX domain (`ai.onnx`). */
  domain: string;
  /** Input value names; `""` marks an omitted optional input. */
  inputs: string[];
  /** Output value names; `""` marks an omitted optional output. */
  outputs: string[];
  /** Attributes by name. */
  attributes: Record<string, AttrValue>;
  /** The proto's doc_string, when present. */
  docString?: string;
}

/** A graph (GraphProto); subgraphs of If/Loop/Scan attributes have the same shape. */
export interface OnnxGraph {
  /** Graph name. */
  name: string;
  /** Nodes in file order (ONNX requires topological order). */
  nodes: OnnxNode[];
  /** Initializers (weights) by name. */
  initializers: Map<string, OnnxTensor>;
  /** Sparse initializers by name (their values' names). */
  sparseInitializers: Map<string, OnnxSparseTensor>;
  /**
   * The graph's real inputs: declared inputs that are not also initializers. Older exports
   * (IR < 4) list every weight as a graph input too; those are left out here.
   */
  inputs: ValueInfo[];
  /** Every declared input as written in the file, initializers included. */
  declaredInputs: ValueInfo[];
  /** Graph outputs. */
  outputs: ValueInfo[];
  /** Intermediate value types (value_info), when the file has them. */
  valueInfo: ValueInfo[];
  /** The proto's doc_string, when present. */
  docString?: string;
}

/** An opset import: a domain (`""` = default ONNX domain) and its version. */
export interface OpsetId {
  /** Operator domain. */
  domain: string;
  /** Opset version. */
  version: number;
}

/** A model-local function (FunctionProto). */
export interface OnnxFunction {
  /** Function name (the op_type that calls it). */
  name: string;
  /** Function domain. */
  domain: string;
  /** Formal input names. */
  inputs: string[];
  /** Formal output names. */
  outputs: string[];
  /** Names of the attributes the function takes. */
  attributeNames: string[];
  /** Attributes with default values. */
  attributeDefaults: Record<string, AttrValue>;
  /** Body. */
  nodes: OnnxNode[];
  /** Opsets the body uses. */
  opsetImport: OpsetId[];
}

/** A decoded ModelProto. */
export interface OnnxModel {
  /** IR version. */
  irVersion: number;
  /** Opsets the graph uses. */
  opsetImport: OpsetId[];
  /** Producer name, e.g. `"pytorch"`. */
  producerName: string;
  /** Producer version. */
  producerVersion: string;
  /** Model domain. */
  domain: string;
  /** Model version. */
  modelVersion: number;
  /** The proto's doc_string. */
  docString: string;
  /** metadata_props as a record. */
  metadata: Record<string, string>;
  /** The main graph. */
  graph: OnnxGraph;
  /** Model-local functions. */
  functions: OnnxFunction[];
}

/** What went wrong, for callers that branch on it. */
export type OnnxReadErrorKind = "truncated" | "not-onnx" | "corrupt" | "external-data" | "io";

/**
 * The one error this module throws. Its message is one line that starts with the file
 * name (or the name given in the options) and says what is wrong.
 */
export class OnnxReadError extends Error {
  /** The file (or name) the error is about. */
  readonly file: string;
  /** Category of the problem. */
  readonly kind: OnnxReadErrorKind;
  /** Builds `"<file>: <problem>"`. */
  constructor(file: string, kind: OnnxReadErrorKind, problem: string) {
    super(`${file}: ${problem}`.replace(/\s*\n\s*/g, " "));
    this.name = "OnnxReadError";
    this.file = file;
    this.kind = kind;
  }
}

/** Options for {@link readOnnx} and {@link readTensorProto}. */
export interface ReadOptions {
  /** Name used in error messages (the file path); defaults to `"<bytes>"`. */
  name?: string;
  /**
   * Directory that external-data locations are relative to (the model's directory).
   * Without it, a model with external data fails with a message saying so.
   */
  baseDir?: string;
  /** Load external data (default true). When false, such tensors get empty data. */
  loadExternal?: boolean;
}

/** Product of dims (1 for a scalar). */
export function tensorSize(dims: readonly number[]): number {
  let n = 1;
  for (const d of dims) n *= d;
  return n;
}

// ---------------------------------------------------------------------------------------
// Parsing context and errors

/** Internal: a semantic problem inside an otherwise well-formed message. */
class Corrupt extends Error {}

interface Ctx {
  file: string;
  baseDir?: string;
  loadExternal: boolean;
}

const TEXT = new TextDecoder("utf-8");

function decodeStr(b: Uint8Array): string {
  return TEXT.decode(b);
}

// ---------------------------------------------------------------------------------------
// Tensors

/** Bytes per element in raw_data (0.5 for 4-bit types; 0 for STRING / unknown). */
function elemBytes(dt: number): number {
  switch (dt) {
    case DataType.FLOAT:
    case DataType.INT32:
    case DataType.UINT32:
      return 4;
    case DataType.DOUBLE:
    case DataType.INT64:
    case DataType.UINT64:
    case DataType.COMPLEX64:
      return 8;
    case DataType.COMPLEX128:
      return 16;
    case DataType.UINT8:
    case DataType.INT8:
    case DataType.BOOL:
    case DataType.FLOAT8E4M3FN:
    case DataType.FLOAT8E4M3FNUZ:
    case DataType.FLOAT8E5M2:
    case DataType.FLOAT8E5M2FNUZ:
      return 1;
    case DataType.UINT16:
    case DataType.INT16:
    case DataType.FLOAT16:
    case DataType.BFLOAT16:
      return 2;
    case DataType.UINT4:
    case DataType.INT4:
    case DataType.FLOAT4E2M1:
      return 0.5;
    default:
      return 0;
  }
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

/** Views an aligned, owned ArrayBuffer as the typed array for `dt`. */
function viewAs(buf: ArrayBuffer, dt: number): TensorData {
  switch (dt) {
    case DataType.FLOAT:
    case DataType.COMPLEX64:
      return new Float32Array(buf);
    case DataType.DOUBLE:
    case DataType.COMPLEX128:
      return new Float64Array(buf);
    case DataType.INT8:
      return new Int8Array(buf);
    case DataType.INT16:
      return new Int16Array(buf);
    case DataType.UINT16:
    case DataType.FLOAT16:
    case DataType.BFLOAT16:
      return new Uint16Array(buf);
    case DataType.INT32:
      return new Int32Array(buf);
    case DataType.UINT32:
      return new Uint32Array(buf);
    case DataType.INT64:
      return new BigInt64Array(buf);
    case DataType.UINT64:
      return new BigUint64Array(buf);
    default: // UINT8, BOOL, FLOAT8*
      return new Uint8Array(buf);
  }
}

/** Element count of the data array for `n` logical elements (complex: two per element). */
function storedCount(dt: number, n: number): number {
  return dt === DataType.COMPLEX64 || dt === DataType.COMPLEX128 ? 2 * n : n;
}

function describe(t: { name: string; dims: number[]; dataType: number }): string {
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

interface RawTensor {
  name: string;
  dims: number[];
  dataType: number;
  docString?: string;
  raw?: Uint8Array;
  floatChunks: Float32Array[];
  doubleChunks: Float64Array[];
  int32: number[];
  int64Chunks: { halves: Uint32Array; count: number }[];
  uint64: { lo: number; hi: number }[];
  strings: string[];
  external: Record<string, string>;
  dataLocation: number;
}

function readPackedFloats(r: ProtoReader, out: Float32Array[]) {
  if (r.wire === WIRE_FIXED32) {
    out.push(Float32Array.of(r.float()));
    return;
  }
  r.expect(WIRE_LEN);
  const b = r.bytes();
  if (b.length % 4 !== 0) throw new Corrupt(`packed float_data of ${b.length} bytes`);
  out.push(packedFloat32(b));
}

function readPackedDoubles(r: ProtoReader, out: Float64Array[]) {
  if (r.wire === 1) {
    out.push(Float64Array.of(r.double()));
    return;
  }
  r.expect(WIRE_LEN);
  const b = r.bytes();
  if (b.length % 8 !== 0) throw new Corrupt(`packed double_data of ${b.length} bytes`);
  out.push(new Float64Array(b.slice().buffer));
}

/** Reads a repeated int64 (packed or not) as raw 32-bit halves, for 64-bit typed arrays. */
function readPackedInt64(r: ProtoReader, out: { halves: Uint32Array; count: number }[]) {
  const halves: number[] = [];
  const one = (rr: ProtoReader) => {
    const [lo, hi] = rr.varintHalves();
    halves.push(lo, hi);
    return 0;
  };
  r.repeatedVarint([], one);
  out.push({ halves: Uint32Array.from(halves), count: halves.length / 2 });
}

function parseTensorRaw(r: ProtoReader): RawTensor {
  const t: RawTensor = {
    name: "",
    dims: [],
    dataType: 0,
    floatChunks: [],
    doubleChunks: [],
    int32: [],
    int64Chunks: [],
    uint64: [],
    strings: [],
    external: {},
    dataLocation: 0,
  };
  while (r.tag()) {
    switch (r.field) {
      case 1:
        r.repeatedVarint(t.dims, (x) => x.int64());
        break;
      case 2:
        r.expect(WIRE_VARINT);
        t.dataType = r.int32();
        break;
      case 4:
        readPackedFloats(r, t.floatChunks);
        break;
      case 5:
        r.repeatedVarint(t.int32, (x) => x.int32());
        break;
      case 6:
        r.expect(WIRE_LEN);
        t.strings.push(decodeStr(r.bytes()));
        break;
      case 7:
        readPackedInt64(r, t.int64Chunks);
        break;
      case 8:
        r.expect(WIRE_LEN);
        t.name = r.string();
        break;
      case 9:
        r.expect(WIRE_LEN);
        t.raw = r.bytes();
        break;
      case 10:
        readPackedDoubles(r, t.doubleChunks);
        break;
      case 11: {
        const tmp: { halves: Uint32Array; count: number }[] = [];
        readPackedInt64(r, tmp);
        for (const c of tmp) {
          for (let i = 0; i < c.count; i++) {
            t.uint64.push({ lo: c.halves[2 * i], hi: c.halves[2 * i + 1] });
          }
        }
        break;
      }
      case 12:
        r.expect(WIRE_LEN);
        t.docString = r.string();
        break;
      case 13: {
        r.expect(WIRE_LEN);
        const kv = parseStringStringEntry(r.message());
        t.external[kv[0]] = kv[1];
        break;
      }
      case 14:
        r.expect(WIRE_VARINT);
        t.dataLocation = r.int32();
        break;
      default: // 3 segment, 16 metadata_props, future fields
        r.skip();
    }
  }
  return t;
}

function parseStringStringEntry(r: ProtoReader): [string, string] {
  let k = "";
  let v = "";
  while (r.tag()) {
    if (r.field === 1 && r.wire === WIRE_LEN) k = r.string();
    else if (r.field === 2 && r.wire === WIRE_LEN) v = r.string();
    else r.skip();
  }
  return [k, v];
}

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

function int64FromChunks(
  chunks: { halves: Uint32Array; count: number }[],
  unsigned: boolean,
): BigInt64Array | BigUint64Array {
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
      return concat(t.floatChunks, (n) => new Float32Array(n));
    case DataType.DOUBLE:
    case DataType.COMPLEX128:
      return concat(t.doubleChunks, (n) => new Float64Array(n));
    case DataType.INT64:
      return int64FromChunks(t.int64Chunks, false);
    case DataType.UINT64: {
      const out = new BigUint64Array(t.uint64.length);
      const u32 = new Uint32Array(out.buffer);
      t.uint64.forEach((v, i) => {
        u32[2 * i] = v.lo;
        u32[2 * i + 1] = v.hi;
      });
      return out;
    }
    case DataType.UINT32:
      return Uint32Array.from(t.uint64, (v) => v.lo);
    case DataType.STRING:
      return t.strings;
    case DataType.INT32:
      return Int32Array.from(t.int32);
    case DataType.INT16:
      return Int16Array.from(t.int32);
    case DataType.INT8:
      return Int8Array.from(t.int32);
    case DataType.UINT16:
    case DataType.FLOAT16:
    case DataType.BFLOAT16:
      return Uint16Array.from(t.int32);
    case DataType.UINT4:
    case DataType.INT4:
    case DataType.FLOAT4E2M1: {
      // int32_data holds the packed bytes, one per int32 element.
      const n = tensorSize(t.dims);
      return unpack4(Uint8Array.from(t.int32), n, dt === DataType.INT4);
    }
    default: // UINT8, BOOL, FLOAT8*
      return Uint8Array.from(t.int32);
  }
}

function externalPath(ctx: Ctx, location: string, tensor: string): string {
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

function loadExternal(t: RawTensor, ctx: Ctx): { data: TensorData; ref: ExternalDataRef } {
  const location = t.external["location"];
  if (!location) throw new Corrupt(`${describe(t)} is EXTERNAL but has no 'location'`);
  const offset = t.external["offset"] ? Number(t.external["offset"]) : 0;
  const lengthStr = t.external["length"];
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

function finishTensor(t: RawTensor, ctx: Ctx): OnnxTensor {
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
  if (t.raw !== undefined) {
    out.data = fromRaw(t.raw, t);
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

function parseTensor(r: ProtoReader, ctx: Ctx): OnnxTensor {
  return finishTensor(parseTensorRaw(r), ctx);
}

function parseSparseTensor(r: ProtoReader, ctx: Ctx): OnnxSparseTensor {
  let values: OnnxTensor | undefined;
  let indices: OnnxTensor | undefined;
  const dims: number[] = [];
  while (r.tag()) {
    switch (r.field) {
      case 1:
        r.expect(WIRE_LEN);
        values = parseTensor(r.message(), ctx);
        break;
      case 2:
        r.expect(WIRE_LEN);
        indices = parseTensor(r.message(), ctx);
        break;
      case 3:
        r.repeatedVarint(dims, (x) => x.int64());
        break;
      default:
        r.skip();
    }
  }
  if (!values || !indices) throw new Corrupt("sparse tensor without values or indices");
  return { values, indices, dims };
}

// ---------------------------------------------------------------------------------------
// Types and value infos

function parseShape(r: ProtoReader): OnnxDim[] {
  const dims: OnnxDim[] = [];
  while (r.tag()) {
    if (r.field === 1 && r.wire === WIRE_LEN) {
      const d = r.message();
      let v: OnnxDim = null;
      while (d.tag()) {
        if (d.field === 1 && d.wire === WIRE_VARINT) v = d.int64();
        else if (d.field === 2 && d.wire === WIRE_LEN) v = d.string();
        else d.skip();
      }
      dims.push(v);
    } else r.skip();
  }
  return dims;
}

function parseTensorType(r: ProtoReader): { elemType: number; shape?: OnnxDim[] } {
  const out: { elemType: number; shape?: OnnxDim[] } = { elemType: 0 };
  while (r.tag()) {
    if (r.field === 1 && r.wire === WIRE_VARINT) out.elemType = r.int32();
    else if (r.field === 2 && r.wire === WIRE_LEN) out.shape = parseShape(r.message());
    else r.skip();
  }
  return out;
}

function parseElemType(r: ProtoReader): OnnxType {
  let elem: OnnxType = { kind: "unknown" };
  while (r.tag()) {
    if (r.field === 1 && r.wire === WIRE_LEN) elem = parseType(r.message());
    else r.skip();
  }
  return elem;
}

function parseType(r: ProtoReader): OnnxType {
  let t: OnnxType = { kind: "unknown" };
  while (r.tag()) {
    if (r.wire !== WIRE_LEN) {
      r.skip();
      continue;
    }
    switch (r.field) {
      case 1:
        t = { kind: "tensor", ...parseTensorType(r.message()) };
        break;
      case 8:
        t = { kind: "sparse_tensor", ...parseTensorType(r.message()) };
        break;
      case 4:
        t = { kind: "sequence", elemType: parseElemType(r.message()) };
        break;
      case 9:
        t = { kind: "optional", elemType: parseElemType(r.message()) };
        break;
      case 5: {
        const m = r.message();
        let keyType = 0;
        let valueType: OnnxType = { kind: "unknown" };
        while (m.tag()) {
          if (m.field === 1 && m.wire === WIRE_VARINT) keyType = m.int32();
          else if (m.field === 2 && m.wire === WIRE_LEN) valueType = parseType(m.message());
          else m.skip();
        }
        t = { kind: "map", keyType, valueType };
        break;
      }
      case 7: {
        const m = r.message();
        let domain = "";
        let name = "";
        while (m.tag()) {
          if (m.field === 1 && m.wire === WIRE_LEN) domain = m.string();
          else if (m.field === 2 && m.wire === WIRE_LEN) name = m.string();
          else m.skip();
        }
        t = { kind: "opaque", domain, name };
        break;
      }
      default: // 6 denotation
        r.skip();
    }
  }
  return t;
}

function parseValueInfo(r: ProtoReader): ValueInfo {
  const v: ValueInfo = { name: "" };
  while (r.tag()) {
    if (r.field === 1 && r.wire === WIRE_LEN) v.name = r.string();
    else if (r.field === 2 && r.wire === WIRE_LEN) v.type = parseType(r.message());
    else if (r.field === 3 && r.wire === WIRE_LEN) v.docString = r.string();
    else r.skip();
  }
  return v;
}

// ---------------------------------------------------------------------------------------
// Attributes, nodes, graphs

const ATTR_TYPES = [
  "UNDEFINED",
  "FLOAT",
  "INT",
  "STRING",
  "TENSOR",
  "GRAPH",
  "FLOATS",
  "INTS",
  "STRINGS",
  "TENSORS",
  "GRAPHS",
  "SPARSE_TENSOR",
  "SPARSE_TENSORS",
  "TYPE_PROTO",
  "TYPE_PROTOS",
] as const;

function parseAttribute(r: ProtoReader, ctx: Ctx): [string, AttrValue] {
  let name = "";
  let type = 0;
  let refAttrName: string | undefined;
  let f: number | undefined;
  let i: number | undefined;
  let s: string | undefined;
  let t: OnnxTensor | undefined;
  let g: OnnxGraph | undefined;
  let st: OnnxSparseTensor | undefined;
  let tp: OnnxType | undefined;
  const floats: number[] = [];
  const ints: number[] = [];
  const strings: string[] = [];
  const tensors: OnnxTensor[] = [];
  const graphs: OnnxGraph[] = [];
  const sparse: OnnxSparseTensor[] = [];
  const typeProtos: OnnxType[] = [];
  while (r.tag()) {
    switch (r.field) {
      case 1:
        r.expect(WIRE_LEN);
        name = r.string();
        break;
      case 20:
        r.expect(WIRE_VARINT);
        type = r.int32();
        break;
      case 21:
        r.expect(WIRE_LEN);
        refAttrName = r.string();
        break;
      case 2:
        r.expect(WIRE_FIXED32);
        f = r.float();
        break;
      case 3:
        r.expect(WIRE_VARINT);
        i = r.int64();
        break;
      case 4:
        r.expect(WIRE_LEN);
        s = decodeStr(r.bytes());
        break;
      case 5:
        r.expect(WIRE_LEN);
        t = parseTensor(r.message(), ctx);
        break;
      case 6:
        r.expect(WIRE_LEN);
        g = parseGraph(r.message(), ctx);
        break;
      case 7:
        r.repeatedFloat(floats);
        break;
      case 8:
        r.repeatedVarint(ints, (x) => x.int64());
        break;
      case 9:
        r.expect(WIRE_LEN);
        strings.push(decodeStr(r.bytes()));
        break;
      case 10:
        r.expect(WIRE_LEN);
        tensors.push(parseTensor(r.message(), ctx));
        break;
      case 11:
        r.expect(WIRE_LEN);
        graphs.push(parseGraph(r.message(), ctx));
        break;
      case 22:
        r.expect(WIRE_LEN);
        st = parseSparseTensor(r.message(), ctx);
        break;
      case 23:
        r.expect(WIRE_LEN);
        sparse.push(parseSparseTensor(r.message(), ctx));
        break;
      case 14:
        r.expect(WIRE_LEN);
        tp = parseType(r.message());
        break;
      case 15:
        r.expect(WIRE_LEN);
        typeProtos.push(parseType(r.message()));
        break;
      default: // 13 doc_string
        r.skip();
    }
  }
  if (type === 0) {
    // Very old files (IR 1) have no `type`: infer it from the field that is set.
    if (f !== undefined) type = 1;
    else if (i !== undefined) type = 2;
    else if (s !== undefined) type = 3;
    else if (t) type = 4;
    else if (g) type = 5;
    else if (floats.length) type = 6;
    else if (ints.length) type = 7;
    else if (strings.length) type = 8;
    else if (tensors.length) type = 9;
    else if (graphs.length) type = 10;
  }
  const typeName = ATTR_TYPES[type];
  if (!typeName) throw new Corrupt(`attribute '${name}' has unknown type ${type}`);
  let v: AttrValue;
  switch (typeName) {
    case "FLOAT":
      v = { type: typeName, value: f ?? 0 };
      break;
    case "INT":
      v = { type: typeName, value: i ?? 0 };
      break;
    case "STRING":
      v = { type: typeName, value: s ?? "" };
      break;
    case "TENSOR":
      if (!t && refAttrName === undefined) {
        throw new Corrupt(`attribute '${name}' is TENSOR but has no tensor`);
      }
      v = { type: typeName, value: t as OnnxTensor };
      break;
    case "GRAPH":
      if (!g && refAttrName === undefined) {
        throw new Corrupt(`attribute '${name}' is GRAPH but has no graph`);
      }
      v = { type: typeName, value: g as OnnxGraph };
      break;
    case "FLOATS":
      v = { type: typeName, value: floats };
      break;
    case "INTS":
      v = { type: typeName, value: ints };
      break;
    case "STRINGS":
      v = { type: typeName, value: strings };
      break;
    case "TENSORS":
      v = { type: typeName, value: tensors };
      break;
    case "GRAPHS":
      v = { type: typeName, value: graphs };
      break;
    case "SPARSE_TENSOR":
      v = { type: typeName, value: st as OnnxSparseTensor };
      break;
    case "SPARSE_TENSORS":
      v = { type: typeName, value: sparse };
      break;
    case "TYPE_PROTO":
      v = { type: typeName, value: tp ?? { kind: "unknown" } };
      break;
    case "TYPE_PROTOS":
      v = { type: typeName, value: typeProtos };
      break;
    default:
      v = { type: "UNDEFINED", value: undefined };
  }
  if (refAttrName !== undefined) v.refAttrName = refAttrName;
  return [name, v];
}

function parseNode(r: ProtoReader, ctx: Ctx): OnnxNode {
  const n: OnnxNode = {
    name: "",
    opType: "",
    domain: "",
    inputs: [],
    outputs: [],
    attributes: {},
  };
  while (r.tag()) {
    switch (r.field) {
      case 1:
        r.expect(WIRE_LEN);
        n.inputs.push(r.string());
        break;
      case 2:
        r.expect(WIRE_LEN);
        n.outputs.push(r.string());
        break;
      case 3:
        r.expect(WIRE_LEN);
        n.name = r.string();
        break;
      case 4:
        r.expect(WIRE_LEN);
        n.opType = r.string();
        break;
      case 7:
        r.expect(WIRE_LEN);
        n.domain = r.string();
        break;
      case 5: {
        r.expect(WIRE_LEN);
        const [k, v] = parseAttribute(r.message(), ctx);
        n.attributes[k] = v;
        break;
      }
      case 6:
        r.expect(WIRE_LEN);
        n.docString = r.string();
        break;
      default: // 8 overload, 9 metadata_props
        r.skip();
    }
  }
  if (n.domain === "ai.onnx") n.domain = "";
  return n;
}

function parseGraph(r: ProtoReader, ctx: Ctx): OnnxGraph {
  const g: OnnxGraph = {
    name: "",
    nodes: [],
    initializers: new Map(),
    sparseInitializers: new Map(),
    inputs: [],
    declaredInputs: [],
    outputs: [],
    valueInfo: [],
  };
  while (r.tag()) {
    switch (r.field) {
      case 1:
        r.expect(WIRE_LEN);
        g.nodes.push(parseNode(r.message(), ctx));
        break;
      case 2:
        r.expect(WIRE_LEN);
        g.name = r.string();
        break;
      case 5: {
        r.expect(WIRE_LEN);
        const t = parseTensor(r.message(), ctx);
        g.initializers.set(t.name, t);
        break;
      }
      case 15: {
        r.expect(WIRE_LEN);
        const s = parseSparseTensor(r.message(), ctx);
        g.sparseInitializers.set(s.values.name, s);
        break;
      }
      case 10:
        r.expect(WIRE_LEN);
        g.docString = r.string();
        break;
      case 11:
        r.expect(WIRE_LEN);
        g.declaredInputs.push(parseValueInfo(r.message()));
        break;
      case 12:
        r.expect(WIRE_LEN);
        g.outputs.push(parseValueInfo(r.message()));
        break;
      case 13:
        r.expect(WIRE_LEN);
        g.valueInfo.push(parseValueInfo(r.message()));
        break;
      default: // 14 quantization_annotation, 16 metadata_props
        r.skip();
    }
  }
  g.inputs = g.declaredInputs.filter((v) =>
    !g.initializers.has(v.name) && !g.sparseInitializers.has(v.name)
  );
  return g;
}

function parseOpset(r: ProtoReader): OpsetId {
  const o: OpsetId = { domain: "", version: 0 };
  while (r.tag()) {
    if (r.field === 1 && r.wire === WIRE_LEN) o.domain = r.string();
    else if (r.field === 2 && r.wire === WIRE_VARINT) o.version = r.int64();
    else r.skip();
  }
  if (o.domain === "ai.onnx") o.domain = "";
  return o;
}

function parseFunction(r: ProtoReader, ctx: Ctx): OnnxFunction {
  const fn: OnnxFunction = {
    name: "",
    domain: "",
    inputs: [],
    outputs: [],
    attributeNames: [],
    attributeDefaults: {},
    nodes: [],
    opsetImport: [],
  };
  while (r.tag()) {
    if (r.wire !== WIRE_LEN) {
      r.skip();
      continue;
    }
    switch (r.field) {
      case 1:
        fn.name = r.string();
        break;
      case 4:
        fn.inputs.push(r.string());
        break;
      case 5:
        fn.outputs.push(r.string());
        break;
      case 6:
        fn.attributeNames.push(r.string());
        break;
      case 11: {
        const [k, v] = parseAttribute(r.message(), ctx);
        fn.attributeNames.push(k);
        fn.attributeDefaults[k] = v;
        break;
      }
      case 7:
        fn.nodes.push(parseNode(r.message(), ctx));
        break;
      case 9:
        fn.opsetImport.push(parseOpset(r.message()));
        break;
      case 10:
        fn.domain = r.string();
        break;
      default:
        r.skip();
    }
  }
  return fn;
}

// ---------------------------------------------------------------------------------------
// Model

/** ModelProto field numbers and their wire types; anything else at the top is skipped. */
const MODEL_FIELDS: Record<number, number> = {
  1: WIRE_VARINT, // ir_version
  2: WIRE_LEN, // producer_name
  3: WIRE_LEN, // producer_version
  4: WIRE_LEN, // domain
  5: WIRE_VARINT, // model_version
  6: WIRE_LEN, // doc_string
  7: WIRE_LEN, // graph
  8: WIRE_LEN, // opset_import
  14: WIRE_LEN, // metadata_props
  20: WIRE_LEN, // training_info
  25: WIRE_LEN, // functions
  26: WIRE_LEN, // configuration
};

/** True when the bytes start like a ModelProto (ONNX writers put ir_version first). */
function looksLikeModel(bytes: Uint8Array): boolean {
  if (bytes.length < 2) return false;
  const r = new ProtoReader(bytes);
  try {
    if (!r.tag()) return false;
    const want = MODEL_FIELDS[r.field];
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

function wrap(e: unknown, ctx: Ctx, top: boolean, looksOk: boolean): OnnxReadError {
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

function makeCtx(options?: ReadOptions): Ctx {
  return {
    file: options?.name ?? "<bytes>",
    baseDir: options?.baseDir,
    loadExternal: options?.loadExternal ?? true,
  };
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
  const looksOk = looksLikeModel(bytes);
  if (!looksOk) {
    throw new OnnxReadError(
      ctx.file,
      "not-onnx",
      `not an ONNX model (the bytes do not start with a ModelProto header)`,
    );
  }
  const m: OnnxModel = {
    irVersion: 0,
    opsetImport: [],
    producerName: "",
    producerVersion: "",
    domain: "",
    modelVersion: 0,
    docString: "",
    metadata: {},
    graph: undefined as unknown as OnnxGraph,
    functions: [],
  };
  let hasGraph = false;
  const r = new ProtoReader(bytes);
  // Pass 1: the top level only, so a cut-off file is reported as truncated before any
  // nested decoding; pass 2 decodes the fields.
  const fields: { field: number; reader?: ProtoReader; value?: number }[] = [];
  try {
    while (r.tag()) {
      const want = MODEL_FIELDS[r.field];
      if (want !== undefined && want !== r.wire) {
        throw new OnnxReadError(
          ctx.file,
          "not-onnx",
          `not an ONNX model (top-level field ${r.field} has the wrong wire type at byte ${r.tagOffset})`,
        );
      }
      if (want === undefined) r.skip();
      else if (want === WIRE_VARINT) fields.push({ field: r.field, value: r.int64() });
      else fields.push({ field: r.field, reader: r.message() });
    }
  } catch (e) {
    throw wrap(e, ctx, true, looksOk);
  }
  try {
    for (const f of fields) {
      const fr = f.reader as ProtoReader;
      switch (f.field) {
        case 1:
          m.irVersion = f.value as number;
          break;
        case 2:
          m.producerName = decodeStr(fr.buf.subarray(fr.pos, fr.end));
          break;
        case 3:
          m.producerVersion = decodeStr(fr.buf.subarray(fr.pos, fr.end));
          break;
        case 4:
          m.domain = decodeStr(fr.buf.subarray(fr.pos, fr.end));
          break;
        case 5:
          m.modelVersion = f.value as number;
          break;
        case 6:
          m.docString = decodeStr(fr.buf.subarray(fr.pos, fr.end));
          break;
        case 7:
          m.graph = parseGraph(fr, ctx);
          hasGraph = true;
          break;
        case 8:
          m.opsetImport.push(parseOpset(fr));
          break;
        case 14: {
          const [k, v] = parseStringStringEntry(fr);
          m.metadata[k] = v;
          break;
        }
        case 25:
          m.functions.push(parseFunction(fr, ctx));
          break;
        default: // training_info, configuration
          break;
      }
    }
  } catch (e) {
    throw wrap(e, ctx, false, looksOk);
  }
  if (!hasGraph) {
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
 * Reads a whole file into one buffer of exactly its size (faster than Deno.readFile for
 * large files here, and never holds more than the one buffer).
 */
async function readWhole(path: string): Promise<Uint8Array> {
  let f: Deno.FsFile;
  try {
    f = await Deno.open(path, { read: true });
  } catch (e) {
    throw ioError(path, e);
  }
  try {
    const size = (await f.stat()).size;
    const buf = new Uint8Array(size);
    let got = 0;
    while (got < size) {
      const n = await f.read(buf.subarray(got, Math.min(size, got + CHUNK)));
      if (n === null) break;
      got += n;
    }
    return got === size ? buf : buf.subarray(0, got);
  } catch (e) {
    throw ioError(path, e);
  } finally {
    f.close();
  }
}

function readWholeSync(path: string): Uint8Array {
  let f: Deno.FsFile;
  try {
    f = Deno.openSync(path, { read: true });
  } catch (e) {
    throw ioError(path, e);
  }
  try {
    const size = f.statSync().size;
    const buf = new Uint8Array(size);
    let got = 0;
    while (got < size) {
      const n = f.readSync(buf.subarray(got, Math.min(size, got + CHUNK)));
      if (n === null) break;
      got += n;
    }
    return got === size ? buf : buf.subarray(0, got);
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
    const t = parseTensorRaw(new ProtoReader(bytes));
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

function attrOf(node: OnnxNode, name: string, type: AttrValue["type"]): AttrValue | undefined {
  const a = node.attributes[name];
  if (a === undefined) return undefined;
  if (a.type !== type) {
    throw new Error(
      `node '${node.name}' (${node.opType}): attribute '${name}' is ${a.type}, expected ${type}`,
    );
  }
  return a;
}

/** An INT attribute, or `dflt` when absent; throws if it has another type. */
export function attrInt(node: OnnxNode, name: string, dflt: number): number;
/** An INT attribute, or undefined when absent; throws if it has another type. */
export function attrInt(node: OnnxNode, name: string): number | undefined;
export function attrInt(node: OnnxNode, name: string, dflt?: number): number | undefined {
  return (attrOf(node, name, "INT")?.value as number | undefined) ?? dflt;
}

/** A FLOAT attribute, or `dflt` when absent; throws if it has another type. */
export function attrFloat(node: OnnxNode, name: string, dflt: number): number;
/** A FLOAT attribute, or undefined when absent; throws if it has another type. */
export function attrFloat(node: OnnxNode, name: string): number | undefined;
export function attrFloat(node: OnnxNode, name: string, dflt?: number): number | undefined {
  return (attrOf(node, name, "FLOAT")?.value as number | undefined) ?? dflt;
}

/** A STRING attribute, or `dflt` when absent; throws if it has another type. */
export function attrString(node: OnnxNode, name: string, dflt: string): string;
/** A STRING attribute, or undefined when absent; throws if it has another type. */
export function attrString(node: OnnxNode, name: string): string | undefined;
export function attrString(node: OnnxNode, name: string, dflt?: string): string | undefined {
  return (attrOf(node, name, "STRING")?.value as string | undefined) ?? dflt;
}

/** An INTS attribute, or `dflt` when absent; throws if it has another type. */
export function attrInts(node: OnnxNode, name: string, dflt: number[]): number[];
/** An INTS attribute, or undefined when absent; throws if it has another type. */
export function attrInts(node: OnnxNode, name: string): number[] | undefined;
export function attrInts(node: OnnxNode, name: string, dflt?: number[]): number[] | undefined {
  return (attrOf(node, name, "INTS")?.value as number[] | undefined) ?? dflt;
}

/** A FLOATS attribute, or `dflt` when absent; throws if it has another type. */
export function attrFloats(node: OnnxNode, name: string, dflt: number[]): number[];
/** A FLOATS attribute, or undefined when absent; throws if it has another type. */
export function attrFloats(node: OnnxNode, name: string): number[] | undefined;
export function attrFloats(node: OnnxNode, name: string, dflt?: number[]): number[] | undefined {
  return (attrOf(node, name, "FLOATS")?.value as number[] | undefined) ?? dflt;
}

/** A STRINGS attribute, or `dflt` when absent; throws if it has another type. */
export function attrStrings(node: OnnxNode, name: string, dflt: string[]): string[];
/** A STRINGS attribute, or undefined when absent; throws if it has another type. */
export function attrStrings(node: OnnxNode, name: string): string[] | undefined;
export function attrStrings(node: OnnxNode, name: string, dflt?: string[]): string[] | undefined {
  return (attrOf(node, name, "STRINGS")?.value as string[] | undefined) ?? dflt;
}

/** A TENSOR attribute, or undefined when absent; throws if it has another type. */
export function attrTensor(node: OnnxNode, name: string): OnnxTensor | undefined {
  return attrOf(node, name, "TENSOR")?.value as OnnxTensor | undefined;
}
