/**
 * ONNX writer: the reader's typed model (`OnnxModel`, see read.ts) → protobuf bytes.
 * Writes what the reader reads for the main graph: nodes with FLOAT/INT/STRING/TENSOR and
 * list attributes, initializers (raw_data, little-endian, no copy of the weights until the
 * final concatenation), inputs/outputs with tensor types, opsets and metadata.
 *
 * Messages are built as lists of byte parts with known lengths, so a 400 MB weight is
 * referenced, never re-encoded, until `writeOnnx` joins the parts once (or
 * `writeOnnxFile` streams them to disk without joining).
 *
 * Also: `cutModel` keeps only what one output needs (the frozen part of a network as its
 * own model, for ONNX Runtime).
 *
 * @module
 */
import { writeFileAtomic } from "../stages/atomic.ts";
import {
  type AttrValue,
  DataType,
  type OnnxDim,
  type OnnxGraph,
  type OnnxModel,
  type OnnxNode,
  type OnnxTensor,
  type OnnxType,
  type ValueInfo,
} from "./read.ts";

/** A message under construction: byte parts and their total length. */
class Msg {
  parts: Uint8Array[] = [];
  length = 0;
  #scratch: number[] = [];

  #flush(): void {
    if (this.#scratch.length === 0) return;
    const b = Uint8Array.from(this.#scratch);
    this.parts.push(b);
    this.length += b.length;
    this.#scratch = [];
  }

  #varint(v: number | bigint): void {
    let x = typeof v === "bigint" ? BigInt.asUintN(64, v) : v;
    if (typeof x === "number" && (x < 0 || !Number.isSafeInteger(x))) {
      x = BigInt.asUintN(64, BigInt(Math.trunc(x)));
    }
    if (typeof x === "number") {
      while (x >= 0x80) {
        this.#scratch.push((x % 0x80) | 0x80);
        x = Math.floor(x / 0x80);
      }
      this.#scratch.push(x);
    } else {
      while (x >= 0x80n) {
        this.#scratch.push(Number(x & 0x7fn) | 0x80);
        x >>= 7n;
      }
      this.#scratch.push(Number(x));
    }
  }

  #tag(field: number, wire: number): void {
    this.#varint(field * 8 + wire);
  }

  /** A varint field (int32/int64/enum/bool). */
  int(field: number, v: number | bigint): this {
    this.#tag(field, 0);
    this.#varint(v);
    return this;
  }

  /** A fixed32 float field. */
  float(field: number, v: number): this {
    this.#tag(field, 5);
    const b = new Uint8Array(new Float32Array([v]).buffer);
    this.#scratch.push(...b);
    return this;
  }

  /** A length-delimited field from raw bytes (referenced, not copied). */
  bytes(field: number, b: Uint8Array): this {
    this.#tag(field, 2);
    this.#varint(b.length);
    this.#flush();
    if (b.length) {
      this.parts.push(b);
      this.length += b.length;
    }
    return this;
  }

  /** A string field (UTF-8). */
  str(field: number, s: string): this {
    return this.bytes(field, new TextEncoder().encode(s));
  }

  /** An embedded message field. */
  msg(field: number, m: Msg): this {
    m.#flush();
    this.#tag(field, 2);
    this.#varint(m.length);
    this.#flush();
    this.parts.push(...m.parts);
    this.length += m.length;
    return this;
  }

  /** A packed repeated varint field. */
  packedInts(field: number, vs: readonly (number | bigint)[]): this {
    const inner = new Msg();
    for (const v of vs) inner.#varint(v);
    inner.#flush();
    return this.msg(field, inner);
  }

  /** A packed repeated float field. */
  packedFloats(field: number, vs: readonly number[]): this {
    return this.bytes(field, new Uint8Array(Float32Array.from(vs).buffer));
  }

  /** Finishes the message (pending scalar bytes become a part). */
  done(): this {
    this.#flush();
    return this;
  }
}

const ATTR_TYPE: Record<string, number> = {
  FLOAT: 1,
  INT: 2,
  STRING: 3,
  TENSOR: 4,
  GRAPH: 5,
  FLOATS: 6,
  INTS: 7,
  STRINGS: 8,
  TENSORS: 9,
  GRAPHS: 10,
};

/** Little-endian bytes of a tensor's elements (a view when the data is a typed array). */
function rawBytes(t: OnnxTensor): Uint8Array {
  const d = t.data;
  if (Array.isArray(d)) throw new Error(`writeOnnx: STRING tensor '${t.name}' is not supported`);
  return new Uint8Array(d.buffer as ArrayBuffer, d.byteOffset, d.byteLength);
}

function tensorMsg(t: OnnxTensor): Msg {
  const m = new Msg();
  if (t.dims.length) m.packedInts(1, t.dims);
  m.int(2, t.dataType);
  if (t.name) m.str(8, t.name);
  if (Array.isArray(t.data)) {
    for (const s of t.data) m.str(6, s);
  } else m.bytes(9, rawBytes(t));
  return m.done();
}

function attrMsg(name: string, a: AttrValue): Msg {
  const m = new Msg().str(1, name);
  switch (a.type) {
    case "FLOAT":
      m.float(2, a.value);
      break;
    case "INT":
      m.int(3, a.value);
      break;
    case "STRING":
      m.str(4, a.value);
      break;
    case "TENSOR":
      m.msg(5, tensorMsg(a.value));
      break;
    case "GRAPH":
      m.msg(6, graphMsg(a.value));
      break;
    case "FLOATS":
      m.packedFloats(7, a.value);
      break;
    case "INTS":
      m.packedInts(8, a.value);
      break;
    case "STRINGS":
      for (const s of a.value) m.str(9, s);
      break;
    case "TENSORS":
      for (const t of a.value) m.msg(10, tensorMsg(t));
      break;
    case "GRAPHS":
      for (const g of a.value) m.msg(11, graphMsg(g));
      break;
    default:
      throw new Error(`writeOnnx: attribute '${name}' of type ${a.type} is not supported`);
  }
  m.int(20, ATTR_TYPE[a.type]);
  return m.done();
}

function nodeMsg(n: OnnxNode): Msg {
  const m = new Msg();
  for (const i of n.inputs) m.str(1, i);
  for (const o of n.outputs) m.str(2, o);
  if (n.name) m.str(3, n.name);
  m.str(4, n.opType);
  for (const [k, a] of Object.entries(n.attributes)) m.msg(5, attrMsg(k, a));
  if (n.domain) m.str(7, n.domain);
  return m.done();
}

function typeMsg(t: OnnxType): Msg {
  if (t.kind !== "tensor") throw new Error(`writeOnnx: value type ${t.kind} is not supported`);
  const tt = new Msg().int(1, t.elemType);
  if (t.shape) {
    const shape = new Msg();
    for (const d of t.shape) {
      const dim = new Msg();
      if (typeof d === "number") dim.int(1, d);
      else if (typeof d === "string") dim.str(2, d);
      shape.msg(1, dim.done());
    }
    tt.msg(2, shape.done());
  }
  return new Msg().msg(1, tt.done()).done();
}

function valueInfoMsg(v: ValueInfo): Msg {
  const m = new Msg().str(1, v.name);
  if (v.type) m.msg(2, typeMsg(v.type));
  return m.done();
}

function graphMsg(g: OnnxGraph, irVersion = 8): Msg {
  const m = new Msg();
  for (const n of g.nodes) m.msg(1, nodeMsg(n));
  m.str(2, g.name || "graph");
  for (const t of g.initializers.values()) m.msg(5, tensorMsg(t));
  for (const v of g.inputs) m.msg(11, valueInfoMsg(v));
  // IR < 4 wants every initializer listed as an input too.
  if (irVersion < 4) {
    for (const t of g.initializers.values()) {
      m.msg(
        11,
        valueInfoMsg({
          name: t.name,
          type: { kind: "tensor", elemType: t.dataType, shape: t.dims },
        }),
      );
    }
  }
  for (const v of g.outputs) m.msg(12, valueInfoMsg(v));
  for (const v of g.valueInfo) m.msg(13, valueInfoMsg(v));
  return m.done();
}

function modelMsg(model: OnnxModel): Msg {
  const m = new Msg().int(1, model.irVersion);
  if (model.producerName) m.str(2, model.producerName);
  if (model.producerVersion) m.str(3, model.producerVersion);
  if (model.domain) m.str(4, model.domain);
  if (model.modelVersion) m.int(5, model.modelVersion);
  if (model.docString) m.str(6, model.docString);
  m.msg(7, graphMsg(model.graph, model.irVersion));
  for (const o of model.opsetImport) {
    const op = new Msg();
    if (o.domain) op.str(1, o.domain);
    m.msg(8, op.int(2, o.version).done());
  }
  for (const [k, v] of Object.entries(model.metadata)) {
    m.msg(14, new Msg().str(1, k).str(2, v).done());
  }
  return m.done();
}

/**
 * Serializes a model to ONNX protobuf bytes (one copy of the weights).
 *
 * @example
 * const bytes = writeOnnx(model); // readOnnx(bytes) gives the model back
 */
export function writeOnnx(model: OnnxModel): Uint8Array {
  const m = modelMsg(model);
  const out = new Uint8Array(m.length);
  let at = 0;
  for (const p of m.parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * Writes a model to `path` part by part (no joined copy), atomically (`writeFileAtomic`: a
 * failed write leaves the old file and no temporary one).
 */
export async function writeOnnxFile(model: OnnxModel, path: string): Promise<void> {
  await writeFileAtomic(path, modelMsg(model).parts);
}

/** A FLOAT tensor-type value info with a shape (numbers, symbolic names or null). */
export function floatValue(name: string, shape: readonly OnnxDim[]): ValueInfo {
  return { name, type: { kind: "tensor", elemType: DataType.FLOAT, shape: [...shape] } };
}

/** A new empty model (IR 8, the ONNX domain at `opset`). */
export function emptyModel(opset: number, producer = "webgpu-pipeline"): OnnxModel {
  return {
    irVersion: 8,
    opsetImport: [{ domain: "", version: opset }],
    producerName: producer,
    producerVersion: "1",
    domain: "",
    modelVersion: 0,
    docString: "",
    metadata: {},
    graph: {
      name: "graph",
      nodes: [],
      initializers: new Map(),
      sparseInitializers: new Map(),
      inputs: [],
      declaredInputs: [],
      outputs: [],
      valueInfo: [],
    },
    functions: [],
  };
}

/**
 * The part of `model` that computes `output` (a value name) from the graph inputs: the
 * nodes it needs, their initializers, and `output` as the only graph output (shape as
 * given, or unknown). Throws when `output` is not produced by any node.
 *
 * @example
 * const frozen = cutModel(vgg, "/features/features.30/MaxPool_output_0", ["batch", 512, 4, 4]);
 */
export function cutModel(
  model: OnnxModel,
  output: string,
  shape?: readonly OnnxDim[],
): OnnxModel {
  const g = model.graph;
  const producer = new Map<string, OnnxNode>();
  for (const n of g.nodes) for (const o of n.outputs) producer.set(o, n);
  if (!producer.has(output)) throw new Error(`cutModel: no node produces '${output}'`);
  const need = new Set<OnnxNode>();
  const stack = [output];
  const used = new Set<string>();
  while (stack.length) {
    const v = stack.pop()!;
    if (used.has(v)) continue;
    used.add(v);
    const n = producer.get(v);
    if (!n || need.has(n)) continue;
    need.add(n);
    for (const i of n.inputs) if (i) stack.push(i);
  }
  const nodes = g.nodes.filter((n) => need.has(n));
  const initializers = new Map([...g.initializers].filter(([k]) => used.has(k)));
  const inputs = g.inputs.filter((v) => used.has(v.name));
  return {
    ...model,
    graph: {
      ...g,
      nodes,
      initializers,
      sparseInitializers: new Map(),
      inputs,
      declaredInputs: inputs,
      outputs: [shape ? floatValue(output, shape) : { name: output }],
      valueInfo: [],
    },
  };
}
