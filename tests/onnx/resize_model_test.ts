/**
 * A model PyTorch exported with `interpolate(size=(7, 7), mode="bilinear",
 * align_corners=True)` (fixtures/onnx/resize/make_resize.py: Resize whose sizes are a
 * Shape → Slice → Concat computation) imports and matches PyTorch and ONNX Runtime at the
 * committed batch of 2 and at another batch size; exported again, ONNX Runtime and our
 * importer give the engine's outputs.
 */
import { assert, assertEquals } from "../assert.ts";
import { noGrad } from "../../core/autograd.ts";
import { initGpu } from "../../core/gpu.ts";
import type { Module } from "../../core/nn/module.ts";
import { fromArray, tidy } from "../../core/tensor.ts";
import { ResizeLayer } from "../../onnx/codecs/resize.ts";
import { exportOnnxBytes } from "../../onnx/export.ts";
import { importOnnx, importOnnxFile } from "../../onnx/import.ts";
import { ortSession } from "../../onnx/ort.ts";
import { readOnnx, readTensorProtoFile, toFloat32 } from "../../onnx/read.ts";

const DIR = new URL("../../fixtures/onnx/resize/", import.meta.url).pathname;

function relErr(a: Float32Array, b: Float32Array): number {
  assertEquals(a.length, b.length);
  let d = 0, m = 1e-6;
  for (let i = 0; i < a.length; i++) {
    d = Math.max(d, Math.abs(a[i] - b[i]));
    m = Math.max(m, Math.abs(b[i]));
  }
  return d / m;
}

async function run(m: Module, x: Float32Array, dims: number[]): Promise<Float32Array> {
  const y = noGrad(() => tidy(() => m.forward(fromArray(x, dims))));
  const d = await y.data();
  y.dispose();
  return d;
}

async function ort(bytes: Uint8Array, x: Float32Array, dims: number[]): Promise<Float32Array> {
  const s = await ortSession("ort-node", bytes);
  const { data } = await s.run(x, dims);
  await s.release();
  return data;
}

Deno.test("resize model: PyTorch's align_corners upsample imports and matches", async () => {
  await initGpu();
  const x = await readTensorProtoFile(`${DIR}input.pb`);
  const want = toFloat32(await readTensorProtoFile(`${DIR}output.pb`));
  const bytes = await Deno.readFile(`${DIR}upsample.onnx`);
  const net = await importOnnxFile(`${DIR}upsample.onnx`);
  const resize = net.steps.find((s) => s.module instanceof ResizeLayer);
  assert(resize, "a ResizeLayer step");
  assertEquals((resize.module as ResizeLayer).rule.coordinate, "align_corners");
  const ours = await run(net, toFloat32(x), x.dims);
  const eTorch = relErr(ours, want);
  assert(eTorch <= 1e-4, `vs PyTorch: ${eTorch}`);
  // Another batch size: the Slice of the input's shape follows it.
  const x3 = Float32Array.from({ length: 3 * 3 * 10 * 12 }, (_, i) => Math.cos(i / 7));
  const eOrt = relErr(await run(net, x3, [3, 3, 10, 12]), await ort(bytes, x3, [3, 3, 10, 12]));
  console.log(`vs PyTorch ${eTorch.toExponential(2)}, vs ONNX Runtime (batch 3) ${eOrt}`);
  assert(eOrt <= 1e-4, `vs ONNX Runtime: ${eOrt}`);

  const again = await exportOnnxBytes(net, { inputShape: [1, 3, 10, 12] });
  const eExport = relErr(await ort(again, x3, [3, 3, 10, 12]), await run(net, x3, [3, 3, 10, 12]));
  assert(eExport <= 1e-4, `exported file on ONNX Runtime: ${eExport}`);
  const back = importOnnx(readOnnx(again));
  const eBack = relErr(await run(back, x3, [3, 3, 10, 12]), await run(net, x3, [3, 3, 10, 12]));
  assert(eBack <= 1e-6, `re-imported: ${eBack}`);
  back.dispose();
  net.dispose();
});
