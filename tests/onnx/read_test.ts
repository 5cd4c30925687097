// Tests for onnx/proto.ts and onnx/read.ts, against references that python3-onnx computed
// once (fixtures/onnx/make_reader_refs.py → fixtures/onnx/reader_refs.json).

import { deepStrictEqual } from "node:assert/strict";
import {
  attrInt,
  attrInts,
  DataType,
  float16ToNumber,
  type OnnxModel,
  OnnxReadError,
  type OnnxTensor,
  readOnnx,
  readOnnxFile,
  readTensorProto,
  readTensorProtoFile,
  tensorSize,
  toFloat32,
} from "../../onnx/read.ts";
import { ProtoError, ProtoReader } from "../../onnx/proto.ts";
import { ensureOnnxTestdata, listVectors, loadVector } from "../onnx_vectors.ts";

// ---------------------------------------------------------------------------------------
// Assertions (JSR's std is unreachable here; node:assert compares bigints and typed arrays)

function assert(cond: unknown, msg = "assertion failed"): asserts cond {
  if (!cond) throw new Error(msg);
}

function assertEquals(actual: unknown, expected: unknown, msg?: string): void {
  deepStrictEqual(actual, expected, msg);
}

// deno-lint-ignore no-explicit-any
type Ctor<E> = new (...args: any[]) => E;

function checkError<E extends Error>(e: unknown, cls: Ctor<E>, includes?: string): E {
  if (!(e instanceof cls)) throw new Error(`threw ${e}, expected ${cls.name}`);
  if (includes !== undefined && !e.message.includes(includes)) {
    throw new Error(`threw "${e.message}", expected it to include "${includes}"`);
  }
  return e;
}

function assertThrows<E extends Error>(fn: () => unknown, cls: Ctor<E>, includes?: string): E {
  try {
    fn();
  } catch (e) {
    return checkError(e, cls, includes);
  }
  throw new Error(`did not throw ${cls.name}`);
}

async function assertRejects<E extends Error>(
  fn: () => Promise<unknown>,
  cls: Ctor<E>,
  _includes?: string,
  what = "",
): Promise<E> {
  try {
    await fn();
  } catch (e) {
    return checkError(e, cls, _includes);
  }
  throw new Error(`${what} did not reject with ${cls.name}`);
}

const FIXTURES = new URL("../../fixtures/onnx/", import.meta.url).pathname;
// deno-lint-ignore no-explicit-any
const REFS: any = JSON.parse(Deno.readTextFileSync(`${FIXTURES}reader_refs.json`));
const ROOT = ensureOnnxTestdata();

// ---------------------------------------------------------------------------------------
// A tiny protobuf encoder, to craft inputs the fixtures do not cover.

class Enc {
  parts: Uint8Array[] = [];
  varint(v: bigint | number): this {
    let x = BigInt.asUintN(64, BigInt(v));
    const out: number[] = [];
    while (x >= 0x80n) {
      out.push(Number(x & 0x7fn) | 0x80);
      x >>= 7n;
    }
    out.push(Number(x));
    this.parts.push(Uint8Array.from(out));
    return this;
  }
  tag(field: number, wire: number): this {
    return this.varint(field * 8 + wire);
  }
  int(field: number, v: bigint | number): this {
    return this.tag(field, 0).varint(v);
  }
  bytes(field: number, b: Uint8Array): this {
    this.tag(field, 2).varint(b.length);
    this.parts.push(b);
    return this;
  }
  str(field: number, s: string): this {
    return this.bytes(field, new TextEncoder().encode(s));
  }
  msg(field: number, e: Enc): this {
    return this.bytes(field, e.done());
  }
  float(field: number, v: number): this {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, v, true);
    this.tag(field, 5);
    this.parts.push(b);
    return this;
  }
  done(): Uint8Array {
    let n = 0;
    for (const p of this.parts) n += p.length;
    const out = new Uint8Array(n);
    let o = 0;
    for (const p of this.parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  }
}

/** A model with one Identity node over the given TensorProto initializers. */
function craftModel(inits: Enc[], node?: Enc): Uint8Array {
  const g = new Enc();
  g.msg(1, node ?? new Enc().str(1, "x").str(2, "y").str(4, "Identity"));
  g.str(2, "crafted");
  for (const t of inits) g.msg(5, t);
  g.msg(11, new Enc().str(1, "x"));
  g.msg(12, new Enc().str(1, "y"));
  return new Enc().int(1, 8).str(2, "test").msg(7, g).msg(8, new Enc().str(1, "").int(2, 17))
    .done();
}

function rawFloats(values: number[]): Uint8Array {
  return new Uint8Array(Float32Array.from(values).buffer);
}

// deno-lint-ignore no-explicit-any
function jsonValue(v: any): number | bigint | string {
  if (v === "NaN") return NaN;
  if (v === "Infinity") return Infinity;
  if (v === "-Infinity") return -Infinity;
  return v;
}

function same(actual: unknown, expected: unknown, where: string) {
  if (typeof actual === "bigint") {
    assertEquals(actual, BigInt(expected as string), where);
  } else if (typeof actual === "number" && Number.isNaN(actual)) {
    assert(Number.isNaN(jsonValue(expected)), `${where}: got NaN, expected ${expected}`);
  } else {
    assertEquals(actual, jsonValue(expected), where);
  }
}

function checkValues(t: OnnxTensor, expected: unknown[], where: string, from = 0) {
  for (let i = 0; i < expected.length; i++) {
    same(t.data[from + i], expected[i], `${where}[${from + i}]`);
  }
}

function storedLength(t: OnnxTensor): number {
  const n = tensorSize(t.dims);
  return t.dataType === DataType.COMPLEX64 || t.dataType === DataType.COMPLEX128 ? 2 * n : n;
}

function oneLine(e: Error, file: string) {
  assert(!e.message.includes("\n"), `message has several lines: ${e.message}`);
  assert(e.message.startsWith(file), `message does not name ${file}: ${e.message}`);
}

// ---------------------------------------------------------------------------------------
// The whole ONNX node test suite

Deno.test("every model.onnx in libonnx-testdata parses", async () => {
  const dirs = listVectors(/^test_/);
  assertEquals(dirs.length, REFS.modelCount);
  assert(dirs.length >= 900, `only ${dirs.length} cases under ${ROOT}`);
  const opTypes = new Set<string>();
  for (const dir of dirs) {
    const m = await readOnnxFile(`${dir}/model.onnx`);
    assert(m.irVersion >= 3, dir);
    assert(m.graph.nodes.length >= 1, dir);
    for (const n of m.graph.nodes) opTypes.add(n.opType);
  }
  for (const op of ["Conv", "MaxPool", "Gemm", "BatchNormalization", "Softmax", "If", "Loop"]) {
    assert(opTypes.has(op), op);
  }
});

Deno.test("every test vector loads; sequence/optional cases fail with one clear line", async () => {
  const nonTensor = new Set<string>(REFS.nonTensorDirs);
  let files = 0;
  let refused = 0;
  for (const dir of listVectors("test_")) {
    const name = dir.split("/").pop()!;
    if (nonTensor.has(name)) {
      const e = await assertRejects(() => loadVector(dir), Error);
      oneLine(e, name);
      assert(/is a (sequence|optional)/.test(e.message), e.message);
      refused++;
      continue;
    }
    const v = await loadVector(dir);
    assertEquals(v.name, name);
    assert(v.sets.length >= 1);
    for (const t of [...v.inputs, ...v.outputs]) {
      files++;
      const n = tensorSize(t.dims);
      const stored = t.dataType === DataType.COMPLEX64 || t.dataType === DataType.COMPLEX128
        ? 2 * n
        : n;
      assertEquals(t.data.length, stored, `${name} ${t.name}`);
    }
  }
  assertEquals(files, REFS.tensorFileCount);
  assertEquals(refused, nonTensor.size);
});

Deno.test("listVectors matches by prefix and RegExp; loadVector exposes the node", async () => {
  const a = listVectors("conv_with_strides");
  const b = listVectors("test_conv_with_strides");
  assertEquals(a, b);
  assert(a.length >= 3);
  assertEquals(listVectors(/^test_conv_with_strides_padding$/).length, 1);
  const v = await loadVector(`${ROOT}/test_conv_with_strides_padding`);
  assertEquals(v.model.node.opType, "Conv");
  assertEquals(attrInts(v.model.node, "strides"), [2, 2]);
  assertEquals(v.model.attributes.pads, { type: "INTS", value: [1, 1, 1, 1] });
  assertEquals(v.inputs.map((t) => t.name), ["x", "W"]);
  assertEquals(v.inputs[0].dims, [1, 1, 7, 5]);
  assert(v.model.opset >= 11);
  const expanded = listVectors(/_expanded$/)[0];
  const ve = await loadVector(expanded);
  if (ve.model.nodes.length !== 1) {
    assertThrows(() => ve.model.node, Error, "nodes; use model.nodes");
  }
});

// ---------------------------------------------------------------------------------------
// Against python3-onnx's decoding

Deno.test("TensorProto decodings match python3-onnx", async () => {
  assert(REFS.tensors.length >= 20);
  const types = new Set<number>();
  for (const ref of REFS.tensors) {
    const t = await readTensorProtoFile(`${ROOT}/${ref.path}`);
    const where = ref.path;
    types.add(t.dataType);
    assertEquals(t.name, ref.name, where);
    assertEquals(t.dims, ref.dims, where);
    assertEquals(t.dataType, ref.dataType, where);
    assertEquals(t.data.length, ref.count, where);
    assertEquals(storedLength(t), ref.count, where);
    checkValues(t, ref.head, where);
    checkValues(t, ref.tail, where, ref.count - ref.tail.length);
    if (ref.sum !== undefined) {
      let s = 0;
      for (const x of t.data as Float32Array) s += x;
      assert(Math.abs(s - ref.sum) <= 1e-9 * Math.max(1, Math.abs(ref.sum)), `${where} sum`);
    }
  }
  // float, uint8, int8, uint16, int16, int32, int64, string, bool, float16, double, u32, u64
  for (const dt of [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]) assert(types.has(dt), `type ${dt}`);
});

Deno.test("model structure matches python3-onnx", async () => {
  // deno-lint-ignore no-explicit-any
  const cmpAttr = (a: any, r: any, where: string) => {
    assertEquals(a.type, r.type, where);
    if (r.type === "TENSOR") {
      assertEquals(a.value.dims, r.value.dims, where);
      assertEquals(a.value.dataType, r.value.dataType, where);
      checkValues(a.value, r.value.values, where);
    } else if (r.type === "GRAPH") {
      assertEquals(a.value.name, r.value.name, where);
      // deno-lint-ignore no-explicit-any
      assertEquals(a.value.nodes.map((n: any) => n.opType), r.value.nodes, where);
    } else if (r.type === "FLOATS" || r.type === "INTS" || r.type === "STRINGS") {
      assertEquals(a.value.length, r.value.length, where);
      // deno-lint-ignore no-explicit-any
      r.value.forEach((x: any, i: number) => same(a.value[i], x, `${where}[${i}]`));
    } else {
      same(a.value, r.value, where);
    }
  };
  for (const ref of REFS.models) {
    const m: OnnxModel = await readOnnxFile(`${ROOT}/${ref.dir}/model.onnx`);
    assertEquals(m.irVersion, ref.irVersion, ref.dir);
    assertEquals(m.opsetImport, ref.opsetImport, ref.dir);
    assertEquals(m.graph.name, ref.graphName, ref.dir);
    assertEquals(m.graph.nodes.length, ref.nodes.length, ref.dir);
    ref.nodes.forEach((rn: typeof ref.nodes[0], i: number) => {
      const n = m.graph.nodes[i];
      const where = `${ref.dir} node ${i}`;
      assertEquals(
        [n.name, n.opType, n.domain, n.inputs, n.outputs],
        [rn.name, rn.opType, rn.domain, rn.inputs, rn.outputs],
        where,
      );
      assertEquals(Object.keys(n.attributes).sort(), Object.keys(rn.attributes).sort(), where);
      for (const k of Object.keys(rn.attributes)) {
        cmpAttr(n.attributes[k], rn.attributes[k], `${where} attribute ${k}`);
      }
    });
    const vi = (v: OnnxModel["graph"]["inputs"][0]) => ({
      name: v.name,
      elemType: v.type?.kind === "tensor" ? v.type.elemType : 0,
      shape: v.type?.kind === "tensor" ? (v.type.shape ?? null) : null,
    });
    assertEquals(m.graph.inputs.map(vi), ref.inputs, ref.dir);
    assertEquals(m.graph.outputs.map(vi), ref.outputs, ref.dir);
  }
});

// ---------------------------------------------------------------------------------------
// Weights: unaligned raw_data, typed fields, external data

Deno.test("unaligned raw_data and typed fields decode exactly", async () => {
  const refs = REFS.inline.tensors;
  const m = await readOnnxFile(`${FIXTURES}${REFS.inline.file}`);
  // The fixture is made so that several raw_data payloads are misaligned in the file.
  const misaligned = Object.entries(refs).filter(([, r]) => {
    // deno-lint-ignore no-explicit-any
    const rr = r as any;
    const size = { 1: 4, 7: 8, 11: 8, 10: 2 }[rr.dataType as number];
    return rr.rawOffset !== undefined && size && rr.rawOffset % size !== 0;
  });
  assert(misaligned.length >= 3, JSON.stringify(misaligned));
  assertEquals([...m.graph.initializers.keys()].sort(), Object.keys(refs).sort());
  for (const [name, r] of Object.entries(refs)) {
    // deno-lint-ignore no-explicit-any
    const ref = r as any;
    const t = m.graph.initializers.get(name)!;
    assertEquals(t.dims, ref.dims, name);
    assertEquals(t.dataType, ref.dataType, name);
    assertEquals(t.data.length, ref.values.length, name);
    checkValues(t, ref.values, name);
    if (!Array.isArray(t.data)) assertEquals(t.data.byteOffset, 0, `${name} owns its buffer`);
  }
  assert(m.graph.initializers.get("bb")!.data instanceof Float32Array);
  assert(m.graph.initializers.get("ccc")!.data instanceof BigInt64Array);
  assert(m.graph.initializers.get("dddd")!.data instanceof Float64Array);
  assertEquals(m.graph.initializers.get("strs")!.data, ["hello", "wörld"]);
  assertEquals(
    m.graph.initializers.get("int64data")!.data,
    BigInt64Array.from([-1n, 2n ** 40n, 9223372036854775807n]),
  );
  const half = toFloat32(m.graph.initializers.get("e")!);
  const bits = m.graph.initializers.get("e")!.data as Uint16Array;
  half.forEach((x, i) => assertEquals(x, Math.fround(float16ToNumber(bits[i]))));
});

Deno.test("external data is read from the model's directory", async () => {
  const ext = REFS.external;
  const path = `${FIXTURES}${ext.file}`;
  const m = await readOnnxFile(path);
  const g = m.graph;
  for (const name of ["W", "big"]) {
    const t = g.initializers.get(name)!;
    const e = ext.entries[name];
    assertEquals(t.external, {
      location: e.location,
      offset: Number(e.offset ?? 0),
      length: Number(e.length),
    });
    checkValues(t, ext[name], name);
    assertEquals(t.data.length, ext[name].length);
  }
  assertEquals(g.initializers.get("B")!.external, undefined);
  checkValues(g.initializers.get("B")!, ext.B, "B");
  checkValues(g.initializers.get("shape")!, ext.shape, "shape");
  // Weights also listed as graph inputs (older exports): inputs holds only the real one.
  assertEquals(g.declaredInputs.map((v) => v.name), ["x", "W", "B"]);
  assertEquals(g.inputs.map((v) => v.name), ["x"]);
  assertEquals(g.inputs[0].type, { kind: "tensor", elemType: 1, shape: ["N", 3] });

  // Bytes without a directory: one clear line.
  const bytes = Deno.readFileSync(path);
  const e1 = assertThrows(() => readOnnx(bytes, { name: "ext.onnx" }), OnnxReadError);
  oneLine(e1, "ext.onnx");
  assertEquals(e1.kind, "external-data");
  assert(e1.message.includes("weights.bin"), e1.message);
  // loadExternal: false skips the data but keeps the reference.
  const lazy = readOnnx(bytes, { loadExternal: false });
  assertEquals(
    lazy.graph.initializers.get("big")!.external?.offset,
    Number(ext.entries.big.offset),
  );

  // A missing or short data file: one clear line naming the model.
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeFile(`${dir}/m.onnx`, bytes);
    const e2 = await assertRejects(() => readOnnxFile(`${dir}/m.onnx`), OnnxReadError);
    oneLine(e2, `${dir}/m.onnx`);
    assert(e2.message.includes("weights.bin"), e2.message);
    await Deno.writeFile(`${dir}/weights.bin`, new Uint8Array(100));
    const e3 = await assertRejects(() => readOnnxFile(`${dir}/m.onnx`), OnnxReadError);
    oneLine(e3, `${dir}/m.onnx`);
    assert(e3.message.includes("has 100 bytes"), e3.message);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("external locations outside the model's directory are refused", () => {
  const t = new Enc().int(1, 2).int(2, 1).str(8, "w").int(14, 1)
    .msg(13, new Enc().str(1, "location").str(2, "../secret.bin"));
  const e = assertThrows(
    () => readOnnx(craftModel([t]), { name: "evil.onnx", baseDir: "/tmp" }),
    OnnxReadError,
  );
  oneLine(e, "evil.onnx");
  assert(e.message.includes("relative path"), e.message);
});

// ---------------------------------------------------------------------------------------
// Crafted encodings

Deno.test("raw_data at every alignment, packed and unpacked repeated fields", () => {
  const values = [1.5, -2.25, 3e-8, 65504, -0];
  for (let pad = 0; pad < 8; pad++) {
    // The name's length shifts the raw_data payload by one byte per step.
    const t = new Enc().int(1, 5).int(2, DataType.FLOAT).str(8, "w".repeat(pad + 1))
      .bytes(9, rawFloats(values));
    const m = readOnnx(craftModel([t]));
    const got = m.graph.initializers.get("w".repeat(pad + 1))!;
    assertEquals([...(got.data as Float32Array)], values.map(Math.fround));
  }
  // dims unpacked (one varint per dim) and int64_data unpacked with negative values.
  const t = new Enc().int(1, 2).int(1, 2).int(2, DataType.INT64).str(8, "i")
    .int(7, -1).int(7, -(2n ** 62n)).int(7, 2n ** 53n + 1n).int(7, 0);
  const m = readOnnx(craftModel([t]));
  const i = m.graph.initializers.get("i")!;
  assertEquals(i.dims, [2, 2]);
  assertEquals([...(i.data as BigInt64Array)], [-1n, -(2n ** 62n), 2n ** 53n + 1n, 0n]);
  // float_data unpacked.
  const f = new Enc().int(1, 2).int(2, DataType.FLOAT).str(8, "f").float(4, 0.5).float(4, -4);
  assertEquals([...(readOnnx(craftModel([f])).graph.initializers.get("f")!.data)], [0.5, -4]);
});

Deno.test("attributes: all scalar and list types, negative ints, unpacked ints", () => {
  const tensor = new Enc().int(1, 2).int(2, DataType.FLOAT).bytes(9, rawFloats([7, 8]));
  const node = new Enc().str(1, "x").str(2, "y").str(3, "n0").str(4, "Custom").str(7, "ai.onnx")
    .msg(5, new Enc().str(1, "f").float(2, 0.25).int(20, 1))
    .msg(5, new Enc().str(1, "i").int(3, -5).int(20, 2))
    .msg(5, new Enc().str(1, "big").int(3, 9223372036854775807n).int(20, 2))
    .msg(5, new Enc().str(1, "s").str(4, "same_upper").int(20, 3))
    .msg(5, new Enc().str(1, "t").msg(5, tensor).int(20, 4))
    .msg(5, new Enc().str(1, "fs").float(7, 1).float(7, 2).int(20, 6))
    .msg(5, new Enc().str(1, "is").int(8, -1).int(8, 3).int(20, 7))
    .msg(5, new Enc().str(1, "ss").str(9, "a").str(9, "b").int(20, 8))
    .msg(5, new Enc().str(1, "old").int(3, 42)); // no type field (IR 1 style)
  const n = readOnnx(craftModel([], node)).graph.nodes[0];
  assertEquals(n.domain, "", "ai.onnx normalizes to the default domain");
  assertEquals(n.attributes.f, { type: "FLOAT", value: 0.25 });
  assertEquals(attrInt(n, "i"), -5);
  assertEquals(attrInt(n, "big"), 9223372036854775807);
  assertEquals(n.attributes.s, { type: "STRING", value: "same_upper" });
  assertEquals(n.attributes.t.type, "TENSOR");
  assertEquals([...((n.attributes.t.value as OnnxTensor).data as Float32Array)], [7, 8]);
  assertEquals(n.attributes.fs, { type: "FLOATS", value: [1, 2] });
  assertEquals(n.attributes.is, { type: "INTS", value: [-1, 3] });
  assertEquals(n.attributes.ss, { type: "STRINGS", value: ["a", "b"] });
  assertEquals(n.attributes.old, { type: "INT", value: 42 });
  assertEquals(attrInt(n, "missing", 3), 3);
  assertThrows(() => attrInts(n, "i"), Error, "is INT, expected INTS");
});

Deno.test("ProtoReader: varints, truncation, bad wire types", () => {
  const r = new ProtoReader(new Enc().varint(-1).varint(300).varint(2n ** 53n).done());
  assertEquals(r.int64(), -1);
  assertEquals(r.int64(), 300);
  assertEquals(r.int64Big(), 2n ** 53n);
  const cut = new ProtoReader(Uint8Array.from([0x0a, 0x05, 1, 2]));
  assert(cut.tag());
  const e = assertThrows(() => cut.bytes(), ProtoError);
  assert(e.truncated);
  const bad = new ProtoReader(Uint8Array.from([0x0b]));
  assertThrows(() => bad.tag(), ProtoError, "invalid wire type 3");
});

// ---------------------------------------------------------------------------------------
// Errors: truncated, not ONNX

Deno.test("a truncated model gives one clear line, at every cut point", async () => {
  const path = `${ROOT}/test_conv_with_strides_padding/model.onnx`;
  const bytes = await Deno.readFile(path);
  const dir = await Deno.makeTempDir();
  try {
    const cutPath = `${dir}/cut.onnx`;
    await Deno.writeFile(cutPath, bytes.subarray(0, Math.floor(bytes.length * 0.6)));
    const e = await assertRejects(() => readOnnxFile(cutPath), OnnxReadError);
    oneLine(e, cutPath);
    assertEquals(e.kind, "truncated");
    assert(e.message.includes("truncated"), e.message);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  for (const file of [path, `${FIXTURES}${REFS.inline.file}`]) {
    const b = await Deno.readFile(file);
    for (let n = 0; n < b.length; n++) {
      let err: unknown;
      try {
        readOnnx(b.subarray(0, n), { name: "cut.onnx" });
      } catch (e) {
        err = e;
      }
      assert(err instanceof OnnxReadError, `cut at ${n}/${b.length}: ${err}`);
      oneLine(err, "cut.onnx");
      if (n > b.length / 2) assertEquals(err.kind, "truncated", `cut at ${n}: ${err.message}`);
    }
  }
  // A cut TensorProto too.
  const pb = await Deno.readFile(
    `${ROOT}/test_conv_with_strides_padding/test_data_set_0/input_0.pb`,
  );
  const e = assertThrows(
    () => readTensorProto(pb.subarray(0, pb.length - 10), { name: "in.pb" }),
    OnnxReadError,
  );
  oneLine(e, "in.pb");
});

Deno.test("a file that is not ONNX gives one clear line", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const cases: [string, Uint8Array][] = [
      ["text.onnx", new TextEncoder().encode("hello, this is not a model\n")],
      ["image.onnx", Uint8Array.from([0xff, 0xd8, 0xff, 0xe0, 0, 0x10, 0x4a, 0x46, 0x49, 0x46])],
      ["png.onnx", Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0])],
      ["empty.onnx", new Uint8Array(0)],
      ["json.onnx", new TextEncoder().encode('{"graph": {"node": []}}')],
      [
        "tensor.onnx",
        await Deno.readFile(`${ROOT}/test_conv_with_strides_padding/test_data_set_0/input_0.pb`),
      ],
    ];
    let seed = 1;
    const random = new Uint8Array(4096).map(() => (seed = (seed * 1103515245 + 12345) >>> 0) >> 24);
    cases.push(["random.onnx", random]);
    for (const [name, bytes] of cases) {
      const p = `${dir}/${name}`;
      await Deno.writeFile(p, bytes);
      const e = await assertRejects(() => readOnnxFile(p), OnnxReadError, undefined, name);
      oneLine(e, p);
      assertEquals(e.kind, "not-onnx", `${name}: ${e.message}`);
      assert(e.message.includes("not an ONNX model"), e.message);
    }
    const missing = await assertRejects(() => readOnnxFile(`${dir}/nope.onnx`), OnnxReadError);
    oneLine(missing, `${dir}/nope.onnx`);
    assertEquals(missing.kind, "io");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  const e = assertThrows(() => readTensorProto(new TextEncoder().encode("hello")), OnnxReadError);
  assert(e.message.includes("TensorProto"), e.message);
});

// ---------------------------------------------------------------------------------------
// Memory: a large model must not need more than about two copies of its weights.

Deno.test("reading a large model holds at most about two copies of the weights", async () => {
  const MB = 1 << 20;
  const tensorBytes = 16 * MB;
  const inits: Enc[] = [];
  for (let k = 0; k < 6; k++) {
    const raw = new Uint8Array(tensorBytes);
    const f = new Float32Array(raw.buffer);
    for (let i = 0; i < f.length; i += 4096) f[i] = k + i;
    // Names of different lengths make some payloads misaligned.
    inits.push(
      new Enc().int(1, f.length).int(2, DataType.FLOAT).str(8, `w${"x".repeat(k)}`).bytes(9, raw),
    );
  }
  const model = craftModel(inits);
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/big.onnx`;
    await Deno.writeFile(path, model);
    const size = model.length;
    inits.length = 0;
    const script = `
      import { readOnnxFile } from ${
      JSON.stringify(new URL("../../onnx/read.ts", import.meta.url).href)
    };
      const hwm = () => Number(Deno.readTextFileSync("/proc/self/status").match(/VmHWM:\\s+(\\d+)/)[1]) * 1024;
      const before = hwm();
      const m = await readOnnxFile(${JSON.stringify(path)});
      let check = 0;
      for (const t of m.graph.initializers.values()) check += t.data[4096];
      console.log(JSON.stringify({ before, after: hwm(), check }));
    `;
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["eval", "--no-check", script],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout);
    assert(out.success, new TextDecoder().decode(out.stderr));
    const { before, after, check } = JSON.parse(text.trim().split("\n").pop()!);
    assertEquals(check, 6 * 4096 + (0 + 1 + 2 + 3 + 4 + 5));
    const grew = after - before;
    console.log(
      `  model ${(size / MB).toFixed(0)} MB: peak RSS grew ${(grew / MB).toFixed(0)} MB ` +
        `(${(grew / size).toFixed(2)} copies)`,
    );
    assert(grew < 2.3 * size, `peak grew ${grew} bytes for a ${size}-byte model`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
