// Tests for onnx/read.ts's errors (a truncated file, a file that is not ONNX: one clear
// line each) and its memory use on a large model.

import {
  DataType,
  OnnxReadError,
  readOnnx,
  readOnnxFile,
  readTensorProto,
} from "../../onnx/read.ts";
import {
  assert,
  assertEquals,
  assertRejects,
  assertThrows,
  craftModel,
  Enc,
  FIXTURES,
  oneLine,
  REFS,
  ROOT,
} from "./_read_helpers.ts";
import { tempDir } from "../_temp.ts";

// ---------------------------------------------------------------------------------------
// Errors: truncated, not ONNX

Deno.test("a truncated model gives one clear line, at every cut point", async () => {
  const path = `${ROOT}/test_conv_with_strides_padding/model.onnx`;
  const bytes = await Deno.readFile(path);
  const dir = await tempDir();
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
  const dir = await tempDir();
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
  const dir = await tempDir();
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
