// Tests for onnx/read.ts's tensors and attributes: unaligned raw_data, typed fields,
// external data, and crafted encodings (packed and unpacked repeated fields, every
// attribute type).

import {
  attrInt,
  attrInts,
  DataType,
  float16ToNumber,
  OnnxReadError,
  type OnnxTensor,
  readOnnx,
  readOnnxFile,
  toFloat32,
} from "../../onnx/read.ts";
import {
  assert,
  assertEquals,
  assertRejects,
  assertThrows,
  checkValues,
  craftModel,
  Enc,
  FIXTURES,
  oneLine,
  rawFloats,
  REFS,
} from "./_read_helpers.ts";
import { tempDir } from "../_temp.ts";

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
  const dir = await tempDir();
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
