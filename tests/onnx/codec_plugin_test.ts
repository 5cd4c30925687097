/**
 * A pooling plugin written in one file outside plugins/ (`_global_lp_pool_plugin.ts`:
 * layer, forward + backward, plugin registration, ONNX codec) goes through ONNX with
 * nothing else edited: its op checks against a float64 reference, a small model using it
 * exports to a file ONNX Runtime runs with the engine's outputs, and the file imports back
 * into a module that uses the plugin's layer and matches too. Unregistering its codec makes
 * the op unknown again, with the usual one-line message.
 */
import { assert, assertEquals, assertRejects } from "../assert.ts";
import { checkOp } from "../core/ops/check.ts";
import { noGrad } from "../../core/autograd.ts";
import { initGpu } from "../../core/gpu.ts";
import { Flatten, ReLU } from "../../core/nn/activation.ts";
import { Conv2d } from "../../core/nn/conv.ts";
import { Linear } from "../../core/nn/linear.ts";
import type { Module } from "../../core/nn/module.ts";
import { Sequential } from "../../core/nn/sequential.ts";
import { Rng } from "../../core/random.ts";
import { fromArray, tidy } from "../../core/tensor.ts";
import { registerCodec, supportedOps, unregisterCodec } from "../../onnx/codec.ts";
import { exportOnnxBytes } from "../../onnx/export.ts";
import { checkImportable, importOnnx, OnnxImportError } from "../../onnx/import.ts";
import { ortSession } from "../../onnx/ort.ts";
import { readOnnx } from "../../onnx/read.ts";
import { emptyModel, floatValue } from "../../onnx/write.ts";
import { create, unregister } from "../../plugins/registry.ts";
import { GlobalLpPool2d, globalLpPool2d, globalLpPoolCodec } from "./_global_lp_pool_plugin.ts";

/** Float64 reference: (Σ |x|ᵖ)^(1/p) per plane. */
function ref(xs: Float64Array[], shapes: number[][], p: number): Float64Array {
  const [N, C, H, W] = shapes[0];
  return Float64Array.from({ length: N * C }, (_, o) => {
    let acc = 0;
    for (let j = 0; j < H * W; j++) acc += Math.abs(xs[0][o * H * W + j]) ** p;
    return acc ** (1 / p);
  });
}

async function run(m: Module, x: Float32Array, shape: number[]): Promise<Float32Array> {
  m.eval();
  const y = noGrad(() => tidy(() => m.forward(fromArray(x, shape))));
  const d = await y.data();
  y.dispose();
  return d;
}

function maxRel(a: Float32Array, b: Float32Array): number {
  assertEquals(a.length, b.length);
  let d = 0, m = 1e-6;
  for (let i = 0; i < a.length; i++) {
    d = Math.max(d, Math.abs(a[i] - b[i]));
    m = Math.max(m, Math.abs(b[i]));
  }
  return d / m;
}

Deno.test("codec plugin: the op matches its reference, gradient included", async () => {
  await checkOp((x) => globalLpPool2d(x, 3), (xs, s) => ref(xs, s, 3), [[2, 3, 5, 7]], {
    probes: 30,
    gen: (r) => r.uniform(0.2, 2) * (r.uniform(0, 1) < 0.5 ? -1 : 1), // away from |x| = 0
  });
});

Deno.test("codec plugin: export → ONNX Runtime → import round trip", async () => {
  await initGpu();
  assert(supportedOps().includes("GlobalLpPool"), "the plugin's op is importable");
  const net = new Sequential(
    new Conv2d(3, 4, 3, { padding: 1, seed: 5 }),
    new ReLU(),
    create<Module>("pooling", "globallppool", { p: 3 }),
    new Flatten(),
    new Linear(4, 2, { seed: 6 }),
  );
  const shape = [2, 3, 9, 11];
  const r = new Rng(7);
  const x = Float32Array.from({ length: 2 * 3 * 9 * 11 }, () => r.uniform(-1, 1));
  const ours = await run(net, x, shape);
  const bytes = await exportOnnxBytes(net, { inputShape: shape });
  const model = readOnnx(bytes);
  assert(model.graph.nodes.some((n) => n.opType === "GlobalLpPool"), "a standard GlobalLpPool");
  const ort = await ortSession("ort-node", bytes);
  const theirs = (await ort.run(x, shape)).data;
  await ort.release();
  const eOrt = maxRel(theirs, ours);
  assert(eOrt <= 1e-4, `ONNX Runtime differs by ${eOrt}`);
  const back = importOnnx(model);
  assert(back.steps.some((s) => s.module instanceof GlobalLpPool2d), "imported as the plugin");
  const again = await run(back, x, shape);
  const eBack = maxRel(again, ours);
  console.log(`GlobalLpPool model: ORT rel. error ${eOrt.toExponential(2)}, re-import ${eBack}`);
  assert(eBack <= 1e-5, `re-imported differs by ${eBack}`);
  back.dispose();
  net.dispose();
});

Deno.test("codec plugin: without its codec the op is unknown again (one line, before GPU work)", async () => {
  const model = emptyModel(13);
  model.graph.nodes = [
    {
      name: "pool",
      opType: "GlobalLpPool",
      domain: "",
      inputs: ["x"],
      outputs: ["y"],
      attributes: {},
    },
  ];
  model.graph.inputs = [floatValue("x", [1, 2, 4, 4])];
  model.graph.outputs = [floatValue("y", [1, 2, 1, 1])];
  assert(unregisterCodec("globallppool"));
  let message = "";
  try {
    checkImportable(model, "pool.onnx");
  } catch (e) {
    assert(e instanceof OnnxImportError, String(e));
    message = e.message;
  } finally {
    registerCodec(globalLpPoolCodec);
  }
  assertEquals(
    message,
    "pool.onnx: unsupported operator (operator 'GlobalLpPool', node 'pool', opset 13)",
  );
  checkImportable(model, "pool.onnx");
  await assertRejects(() => registerCodec(globalLpPoolCodec), /already registered/);
  await assertRejects(
    () => registerCodec({ name: "other", opTypes: ["GlobalLpPool"] }),
    /GlobalLpPool is already imported by "globallppool"/,
  );
  unregister("pooling", "globallppool");
});

Deno.test("codec plugin: plugins/README.md shows this plugin's file as it is", async () => {
  const readme = await Deno.readTextFile(new URL("../../plugins/README.md", import.meta.url));
  const file = await Deno.readTextFile(new URL("./_global_lp_pool_plugin.ts", import.meta.url));
  assert(readme.includes("```ts\n" + file + "```"), "the guide's copy differs from the file");
});
