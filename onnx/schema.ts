/**
 * The decoded ONNX schema: what `onnx/read.ts` returns (models, graphs, nodes, attributes,
 * tensors, types), the `TensorProto.DataType` codes, and the one error the reader throws.
 * Also the reader's internal parse context and its "corrupt message" signal, shared by
 * `tensor_data.ts`, `messages.ts` and `read.ts`.
 *
 * @module
 */

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

/**
 * Internal to the reader (not re-exported by `read.ts`): a semantic problem inside an
 * otherwise well-formed message; `read.ts` turns it into an {@link OnnxReadError}.
 */
export class Corrupt extends Error {}

/** Internal to the reader: what one read needs to know besides the bytes. */
export interface ReadCtx {
  /** Name for error messages (the file path, or `"<bytes>"`). */
  file: string;
  /** Directory that external-data locations are relative to. */
  baseDir?: string;
  /** Whether to load external data. */
  loadExternal: boolean;
}
