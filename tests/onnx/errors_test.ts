/**
 * Load-time errors of `importOnnxFile`: an unsupported operator, an unsupported form of a
 * supported one, a truncated file and a file that is not ONNX each give one clear line
 * naming the file (and the operator, node and opset) before any module is built.
 */
import { assert, assertEquals } from "../assert.ts";
import { gpu, initGpu } from "../../core/gpu.ts";
import { importOnnxFile, OnnxImportError } from "../../onnx/import.ts";
import { DataType, OnnxReadError } from "../../onnx/read.ts";
import { emptyModel, floatValue, writeOnnx } from "../../onnx/write.ts";
import { tempDir } from "../_temp.ts";

const VGG = new URL("../../fixtures/onnx/vgg/", import.meta.url).pathname;
const JPEG = new URL("../../fixtures/intel/seg_pred/seg_pred/43.jpg", import.meta.url).pathname;

async function errorOf(path: string): Promise<Error> {
  try {
    const net = await importOnnxFile(path);
    net.dispose();
  } catch (e) {
    return e as Error;
  }
  throw new Error(`${path} loaded`);
}

function oneLine(e: Error): void {
  assert(!e.message.includes("\n"), `not one line: ${e.message}`);
  assert(e.message.length < 300, `too long: ${e.message}`);
}

/** A small model: Conv (weights) → Relu → `op` → output. */
function modelWith(op: string, attributes = {}): Uint8Array {
  const m = emptyModel(11);
  const g = m.graph;
  g.initializers.set("w", {
    name: "w",
    dims: [2, 1, 3, 3],
    dataType: DataType.FLOAT,
    data: new Float32Array(18),
  });
  g.nodes = [
    {
      name: "conv1",
      opType: "Conv",
      domain: "",
      inputs: ["x", "w"],
      outputs: ["a"],
      attributes: {},
    },
    { name: "relu1", opType: "Relu", domain: "", inputs: ["a"], outputs: ["b"], attributes: {} },
    { name: "odd_one", opType: op, domain: "", inputs: ["b"], outputs: ["y"], attributes },
  ];
  g.inputs = [floatValue("x", [1, 1, 8, 8])];
  g.outputs = [floatValue("y", [1, 2, 6, 6])];
  return writeOnnx(m);
}

Deno.test("errors: an unsupported operator names the operator, node and opset", async () => {
  await initGpu();
  const dir = await tempDir();
  const path = `${dir}/einsum.onnx`;
  await Deno.writeFile(path, modelWith("Einsum", { equation: { type: "STRING", value: "ii" } }));
  const live = gpu().stats().liveBuffers;
  const e = await errorOf(path);
  assert(e instanceof OnnxImportError, String(e));
  oneLine(e);
  assertEquals(
    e.message,
    `${path}: unsupported operator (operator 'Einsum', node 'odd_one', opset 11)`,
  );
  // Tensors the garbage collector frees meanwhile can only lower the count: no new buffer.
  const now = gpu().stats().liveBuffers;
  assert(now <= live, `nothing was uploaded (live buffers ${live} → ${now})`);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("errors: an unsupported form of a supported operator", async () => {
  await initGpu();
  const dir = await tempDir();
  const path = `${dir}/resize.onnx`;
  await Deno.writeFile(path, modelWith("Resize", { mode: { type: "STRING", value: "cubic" } }));
  const e = await errorOf(path);
  assert(e instanceof OnnxImportError, String(e));
  oneLine(e);
  assert(
    /mode 'cubic' is not supported.*'Resize', node 'odd_one', opset 11/.test(e.message),
    e.message,
  );
  await Deno.remove(dir, { recursive: true });
});

Deno.test("errors: a truncated file", async () => {
  const dir = await tempDir();
  const path = `${dir}/truncated.onnx`;
  const bytes = await Deno.readFile(`${VGG}zoo.onnx`);
  await Deno.writeFile(path, bytes.subarray(0, bytes.length >> 1));
  const e = await errorOf(path);
  assert(e instanceof OnnxReadError, String(e));
  oneLine(e);
  assert(e.message.startsWith(`${path}: `) && /truncated/.test(e.message), e.message);
  console.log(e.message);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("errors: a file that is not ONNX", async () => {
  const e = await errorOf(JPEG);
  assert(e instanceof OnnxReadError, String(e));
  oneLine(e);
  assert(e.message.startsWith(`${JPEG}: `) && /not/i.test(e.message), e.message);
  console.log(e.message);
});
