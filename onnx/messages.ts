/**
 * The ONNX messages as field tables (see `field_table.ts`): one {@link Message} per
 * protobuf message of onnx.proto that the reader uses, decoded by the one generic
 * `decodeMessage`, plus the post-processing a table cannot express (attribute type
 * resolution, tensor payloads in `tensor_data.ts`, domain normalizing, graph inputs).
 * Fields a table leaves out (segment, metadata_props, quantization_annotation, overload,
 * denotation, …) are skipped.
 *
 * Why no protobuf library: the reader is hand-written for speed and memory — every weight
 * is copied exactly once, from the file bytes into its own aligned typed array, and
 * external data is streamed from its file straight into the tensor, which generic
 * decoders (that materialize every `bytes` field and repeated value) cannot promise.
 * Messages whose wire-type mismatches are skipped rather than rejected are marked
 * `lenient`, as the reader has always treated them.
 *
 * @module
 */

import { decodeMessage, type Message } from "./field_table.ts";
import { type ProtoReader, WIRE_LEN } from "./proto.ts";
import {
  type AttrValue,
  Corrupt,
  type OnnxDim,
  type OnnxFunction,
  type OnnxGraph,
  type OnnxModel,
  type OnnxNode,
  type OnnxSparseTensor,
  type OnnxTensor,
  type OnnxType,
  type OpsetId,
  type ReadCtx,
  type ValueInfo,
} from "./schema.ts";
import { finishTensor, type RawTensor } from "./tensor_data.ts";

/**
 * The decoder of an already defined table, for table entries. Tables that refer to each
 * other (TypeProto, GraphProto ↔ NodeProto ↔ AttributeProto) use hoisted `decode…`
 * functions instead.
 */
const by = <T, R>(m: Message<T, R>) => (r: ProtoReader, ctx: ReadCtx) => decodeMessage(r, m, ctx);

// ---------------------------------------------------------------------------------------
// Tensors

/** StringStringEntryProto → [key, value]. */
const STRING_ENTRY: Message<{ key: string; value: string }, [string, string]> = {
  lenient: true,
  init: () => ({ key: "", value: "" }),
  fields: {
    1: { name: "key", kind: "string" },
    2: { name: "value", kind: "string" },
  },
  finish: (e) => [e.key, e.value],
};

/** TensorProto, as it comes off the wire; `finishTensor` makes the tensor of it. */
const TENSOR: Message<RawTensor> = {
  init: () => ({
    dims: [],
    dataType: 0,
    floatData: [],
    int32Data: [],
    stringData: [],
    int64Data: [],
    name: "",
    doubleData: [],
    uint64Data: [],
    externalData: {},
    dataLocation: 0,
  }),
  fields: {
    1: { name: "dims", kind: "int64", repeated: true },
    2: { name: "dataType", kind: "int32" },
    4: { name: "floatData", kind: "float32s" },
    5: { name: "int32Data", kind: "int32", repeated: true },
    6: { name: "stringData", kind: "string", repeated: true },
    7: { name: "int64Data", kind: "int64s" },
    8: { name: "name", kind: "string" },
    9: { name: "rawData", kind: "bytes" },
    10: { name: "doubleData", kind: "float64s" },
    11: { name: "uint64Data", kind: "int64s" },
    12: { name: "docString", kind: "string" },
    13: { name: "externalData", kind: "message", decode: by(STRING_ENTRY), map: true },
    14: { name: "dataLocation", kind: "int32" },
  }, // 3 segment, 16 metadata_props: skipped
};

/** One TensorProto as it is on the wire (for `readTensorProto`'s own checks). */
export function decodeTensorRaw(r: ProtoReader, ctx: ReadCtx): RawTensor {
  return decodeMessage(r, TENSOR, ctx);
}

/** One TensorProto, payload decoded. */
export function decodeTensor(r: ProtoReader, ctx: ReadCtx): OnnxTensor {
  return finishTensor(decodeTensorRaw(r, ctx), ctx);
}

type RawSparse = { values?: OnnxTensor; indices?: OnnxTensor; dims: number[] };

/** SparseTensorProto. */
const SPARSE_TENSOR: Message<RawSparse, OnnxSparseTensor> = {
  init: () => ({ dims: [] }),
  fields: {
    1: { name: "values", kind: "message", decode: decodeTensor },
    2: { name: "indices", kind: "message", decode: decodeTensor },
    3: { name: "dims", kind: "int64", repeated: true },
  },
  finish: ({ values, indices, dims }) => {
    if (!values || !indices) throw new Corrupt("sparse tensor without values or indices");
    return { values, indices, dims };
  },
};

// ---------------------------------------------------------------------------------------
// Types and value infos (all lenient)

/** TensorShapeProto.Dimension: dim_value or dim_param (a oneof: the last one wins). */
const DIMENSION: Message<{ value: OnnxDim }, OnnxDim> = {
  lenient: true,
  init: () => ({ value: null }),
  fields: {
    1: { name: "value", kind: "int64" }, // dim_value
    2: { name: "value", kind: "string" }, // dim_param
  }, // 3 denotation: skipped
  finish: (d) => d.value,
};

/** TensorShapeProto. */
const SHAPE: Message<{ dim: OnnxDim[] }, OnnxDim[]> = {
  lenient: true,
  init: () => ({ dim: [] }),
  fields: {
    1: { name: "dim", kind: "message", decode: by(DIMENSION), repeated: true },
  },
  finish: (s) => s.dim,
};

type TensorType = Extract<OnnxType, { kind: "tensor" | "sparse_tensor" }>;
type ElemType = Extract<OnnxType, { kind: "sequence" | "optional" }>;

/** TypeProto.Tensor and TypeProto.SparseTensor (the same fields). */
function tensorType(kind: TensorType["kind"]): Message<TensorType> {
  return {
    lenient: true,
    init: () => ({ kind, elemType: 0 }),
    fields: {
      1: { name: "elemType", kind: "int32" }, // elem_type
      2: { name: "shape", kind: "message", decode: by(SHAPE) },
    },
  };
}

/** TypeProto.Sequence and TypeProto.Optional (the same field). */
function elemType(kind: ElemType["kind"]): Message<ElemType> {
  return {
    lenient: true,
    init: () => ({ kind, elemType: { kind: "unknown" } }),
    fields: { 1: { name: "elemType", kind: "message", decode: decodeType } }, // elem_type
  };
}

/** TypeProto.Map. */
const MAP_TYPE: Message<Extract<OnnxType, { kind: "map" }>> = {
  lenient: true,
  init: () => ({ kind: "map", keyType: 0, valueType: { kind: "unknown" } }),
  fields: {
    1: { name: "keyType", kind: "int32" }, // key_type
    2: { name: "valueType", kind: "message", decode: decodeType }, // value_type
  },
};

/** TypeProto.Opaque. */
const OPAQUE_TYPE: Message<Extract<OnnxType, { kind: "opaque" }>> = {
  lenient: true,
  init: () => ({ kind: "opaque", domain: "", name: "" }),
  fields: {
    1: { name: "domain", kind: "string" },
    2: { name: "name", kind: "string" },
  },
};

/** TypeProto: the `value` oneof (the last one wins). */
const TYPE: Message<{ value: OnnxType }, OnnxType> = {
  lenient: true,
  init: () => ({ value: { kind: "unknown" } }),
  fields: {
    1: { name: "value", kind: "message", decode: by(tensorType("tensor")) }, // tensor_type
    4: { name: "value", kind: "message", decode: by(elemType("sequence")) }, // sequence_type
    5: { name: "value", kind: "message", decode: by(MAP_TYPE) }, // map_type
    7: { name: "value", kind: "message", decode: by(OPAQUE_TYPE) }, // opaque_type
    8: { name: "value", kind: "message", decode: by(tensorType("sparse_tensor")) },
    9: { name: "value", kind: "message", decode: by(elemType("optional")) }, // optional_type
  }, // 6 denotation: skipped
  finish: (t) => t.value,
};

function decodeType(r: ProtoReader, ctx: ReadCtx): OnnxType {
  return decodeMessage(r, TYPE, ctx);
}

/** ValueInfoProto. */
const VALUE_INFO: Message<ValueInfo> = {
  lenient: true,
  init: () => ({ name: "" }),
  fields: {
    1: { name: "name", kind: "string" },
    2: { name: "type", kind: "message", decode: decodeType },
    3: { name: "docString", kind: "string" },
  },
};

// ---------------------------------------------------------------------------------------
// Attributes

/** AttributeProto as it is on the wire (onnx.proto's field names, in camelCase). */
interface RawAttribute {
  name: string;
  type: number;
  refAttrName?: string;
  f?: number;
  i?: number;
  s?: string;
  t?: OnnxTensor;
  g?: OnnxGraph;
  sparseTensor?: OnnxSparseTensor;
  tp?: OnnxType;
  floats: number[];
  ints: number[];
  strings: string[];
  tensors: OnnxTensor[];
  graphs: OnnxGraph[];
  sparseTensors: OnnxSparseTensor[];
  typeProtos: OnnxType[];
}

/** AttributeProto.AttributeType code → its name and the RawAttribute field holding it. */
const ATTR_TYPES: readonly [AttrValue["type"], keyof RawAttribute | undefined][] = [
  ["UNDEFINED", undefined],
  ["FLOAT", "f"],
  ["INT", "i"],
  ["STRING", "s"],
  ["TENSOR", "t"],
  ["GRAPH", "g"],
  ["FLOATS", "floats"],
  ["INTS", "ints"],
  ["STRINGS", "strings"],
  ["TENSORS", "tensors"],
  ["GRAPHS", "graphs"],
  ["SPARSE_TENSOR", "sparseTensor"],
  ["SPARSE_TENSORS", "sparseTensors"],
  ["TYPE_PROTO", "tp"],
  ["TYPE_PROTOS", "typeProtos"],
];

/** Resolves an attribute's type (inferred for IR 1 files, which have none) and value. */
function resolveAttribute(a: RawAttribute): [string, AttrValue] {
  let type = a.type;
  if (type === 0) {
    // Very old files (IR 1) have no `type`: infer it from the first field set, FLOAT to GRAPHS.
    for (let code = 1; code <= 10; code++) {
      const v = a[ATTR_TYPES[code][1]!];
      if (Array.isArray(v) ? v.length : v !== undefined) {
        type = code;
        break;
      }
    }
  }
  const entry = ATTR_TYPES[type];
  if (!entry) throw new Corrupt(`attribute '${a.name}' has unknown type ${type}`);
  const [typeName, field] = entry;
  let value = field === undefined ? undefined : a[field];
  if ((typeName === "TENSOR" || typeName === "GRAPH") && !value && a.refAttrName === undefined) {
    throw new Corrupt(`attribute '${a.name}' is ${typeName} but has no ${typeName.toLowerCase()}`);
  }
  if (typeName === "FLOAT" || typeName === "INT") value ??= 0;
  else if (typeName === "STRING") value ??= "";
  else if (typeName === "TYPE_PROTO") value ??= { kind: "unknown" };
  const v = { type: typeName, value } as AttrValue;
  if (a.refAttrName !== undefined) v.refAttrName = a.refAttrName;
  return [a.name, v];
}

/** AttributeProto → [name, value]. */
const ATTRIBUTE: Message<RawAttribute, [string, AttrValue]> = {
  init: () => ({
    name: "",
    type: 0,
    floats: [],
    ints: [],
    strings: [],
    tensors: [],
    graphs: [],
    sparseTensors: [],
    typeProtos: [],
  }),
  fields: {
    1: { name: "name", kind: "string" },
    2: { name: "f", kind: "float" },
    3: { name: "i", kind: "int64" },
    4: { name: "s", kind: "string" },
    5: { name: "t", kind: "message", decode: decodeTensor },
    6: { name: "g", kind: "message", decode: decodeGraph },
    7: { name: "floats", kind: "float", repeated: true },
    8: { name: "ints", kind: "int64", repeated: true },
    9: { name: "strings", kind: "string", repeated: true },
    10: { name: "tensors", kind: "message", decode: decodeTensor, repeated: true },
    11: { name: "graphs", kind: "message", decode: decodeGraph, repeated: true },
    14: { name: "tp", kind: "message", decode: decodeType },
    15: { name: "typeProtos", kind: "message", decode: decodeType, repeated: true },
    20: { name: "type", kind: "int32" },
    21: { name: "refAttrName", kind: "string" },
    22: { name: "sparseTensor", kind: "message", decode: by(SPARSE_TENSOR) },
    23: { name: "sparseTensors", kind: "message", decode: by(SPARSE_TENSOR), repeated: true },
  }, // 13 doc_string: skipped
  finish: resolveAttribute,
};

function decodeAttribute(r: ProtoReader, ctx: ReadCtx): [string, AttrValue] {
  return decodeMessage(r, ATTRIBUTE, ctx);
}

// ---------------------------------------------------------------------------------------
// Nodes, graphs, functions, the model

/** `ai.onnx` is the default domain, written `""`. */
function defaultDomain<T extends { domain: string }>(o: T): T {
  if (o.domain === "ai.onnx") o.domain = "";
  return o;
}

/** NodeProto. */
const NODE: Message<OnnxNode> = {
  init: () => ({ name: "", opType: "", domain: "", inputs: [], outputs: [], attributes: {} }),
  fields: {
    1: { name: "inputs", kind: "string", repeated: true }, // input
    2: { name: "outputs", kind: "string", repeated: true }, // output
    3: { name: "name", kind: "string" },
    4: { name: "opType", kind: "string" }, // op_type
    5: { name: "attributes", kind: "message", decode: decodeAttribute, map: true }, // attribute
    6: { name: "docString", kind: "string" }, // doc_string
    7: { name: "domain", kind: "string" },
  }, // 8 overload, 9 metadata_props: skipped
  finish: defaultDomain,
};

function decodeNode(r: ProtoReader, ctx: ReadCtx): OnnxNode {
  return decodeMessage(r, NODE, ctx);
}

/** GraphProto; `inputs` are the declared inputs that are not initializers. */
const GRAPH: Message<OnnxGraph> = {
  init: () => ({
    name: "",
    nodes: [],
    initializers: new Map(),
    sparseInitializers: new Map(),
    inputs: [],
    declaredInputs: [],
    outputs: [],
    valueInfo: [],
  }),
  fields: {
    1: { name: "nodes", kind: "message", decode: decodeNode, repeated: true }, // node
    2: { name: "name", kind: "string" },
    5: {
      name: "initializers", // initializer
      kind: "message",
      decode: decodeTensor,
      store: (g, t: OnnxTensor) => g.initializers.set(t.name, t),
    },
    10: { name: "docString", kind: "string" }, // doc_string
    11: { name: "declaredInputs", kind: "message", decode: by(VALUE_INFO), repeated: true },
    12: { name: "outputs", kind: "message", decode: by(VALUE_INFO), repeated: true },
    13: { name: "valueInfo", kind: "message", decode: by(VALUE_INFO), repeated: true },
    15: {
      name: "sparseInitializers", // sparse_initializer
      kind: "message",
      decode: by(SPARSE_TENSOR),
      store: (g, s: OnnxSparseTensor) => g.sparseInitializers.set(s.values.name, s),
    },
  }, // 14 quantization_annotation, 16 metadata_props: skipped
  finish: (g) => {
    g.inputs = g.declaredInputs.filter((v) =>
      !g.initializers.has(v.name) && !g.sparseInitializers.has(v.name)
    );
    return g;
  },
};

function decodeGraph(r: ProtoReader, ctx: ReadCtx): OnnxGraph {
  return decodeMessage(r, GRAPH, ctx);
}

/** OperatorSetIdProto. */
const OPSET: Message<OpsetId> = {
  lenient: true,
  init: () => ({ domain: "", version: 0 }),
  fields: {
    1: { name: "domain", kind: "string" },
    2: { name: "version", kind: "int64" },
  },
  finish: defaultDomain,
};

/** FunctionProto (every field it uses is length-delimited; others are skipped). */
const FUNCTION: Message<OnnxFunction> = {
  lenient: true,
  init: () => ({
    name: "",
    domain: "",
    inputs: [],
    outputs: [],
    attributeNames: [],
    attributeDefaults: {},
    nodes: [],
    opsetImport: [],
  }),
  fields: {
    1: { name: "name", kind: "string" },
    4: { name: "inputs", kind: "string", repeated: true }, // input
    5: { name: "outputs", kind: "string", repeated: true }, // output
    6: { name: "attributeNames", kind: "string", repeated: true }, // attribute
    7: { name: "nodes", kind: "message", decode: decodeNode, repeated: true }, // node
    9: { name: "opsetImport", kind: "message", decode: by(OPSET), repeated: true },
    10: { name: "domain", kind: "string" },
    11: {
      name: "attributeDefaults", // attribute_proto: a name in `attribute` order, and a default
      kind: "message",
      decode: decodeAttribute,
      store: (fn, [k, v]: [string, AttrValue]) => {
        fn.attributeNames.push(k);
        fn.attributeDefaults[k] = v;
      },
    },
  },
};

/**
 * ModelProto. `read.ts` first walks its top level alone, checking each listed field's wire
 * type (see `fieldWire`), so a cut-off file reads as truncated before any nested decoding.
 */
export const MODEL: Message<OnnxModel> = {
  init: () => ({
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
  }),
  fields: {
    1: { name: "irVersion", kind: "int64" }, // ir_version
    2: { name: "producerName", kind: "string" }, // producer_name
    3: { name: "producerVersion", kind: "string" }, // producer_version
    4: { name: "domain", kind: "string" },
    5: { name: "modelVersion", kind: "int64" }, // model_version
    6: { name: "docString", kind: "string" }, // doc_string
    7: { name: "graph", kind: "message", decode: decodeGraph },
    8: { name: "opsetImport", kind: "message", decode: by(OPSET), repeated: true },
    14: { name: "metadata", kind: "message", decode: by(STRING_ENTRY), map: true },
    20: { kind: "ignored", wire: WIRE_LEN }, // training_info
    25: { name: "functions", kind: "message", decode: by(FUNCTION), repeated: true },
    26: { kind: "ignored", wire: WIRE_LEN }, // configuration
  },
};
