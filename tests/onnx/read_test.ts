// Tests for onnx/proto.ts and onnx/read.ts over the whole ONNX node test suite and against
// references that python3-onnx computed once (fixtures/onnx/make_reader_refs.py →
// fixtures/onnx/reader_refs.json). Tensors: read_tensor_test.ts; errors and memory:
// read_errors_test.ts.

import {
  attrInts,
  DataType,
  type OnnxModel,
  readOnnxFile,
  readTensorProtoFile,
  tensorSize,
} from "../../onnx/read.ts";
import { ProtoError, ProtoReader } from "../../onnx/proto.ts";
import { listVectors, loadVector } from "../onnx_vectors.ts";
import {
  assert,
  assertEquals,
  assertRejects,
  assertThrows,
  checkValues,
  Enc,
  oneLine,
  REFS,
  ROOT,
  same,
  storedLength,
} from "./_read_helpers.ts";

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
