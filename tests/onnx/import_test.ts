/**
 * Import of the two VGG flavours (fixtures/onnx/make_vgg.py): the imported forward against
 * PyTorch's output for the committed input AND against ONNX Runtime Web (wasm) running the
 * same file, in the same test; relative error ≤ 1e-4. Also: PyTorch-style names, weights
 * moving between the flavours by name, the features part against PyTorch's `features`.
 */
import { assert, assertEquals } from "../assert.ts";
import { noGrad } from "../../core/autograd.ts";
import { initGpu } from "../../core/gpu.ts";
import { fromArray, tidy } from "../../core/tensor.ts";
import { runChain } from "../../onnx/graph_module.ts";
import { importOnnxFile } from "../../onnx/import.ts";
import { ortSession } from "../../onnx/ort.ts";
import { readTensorProtoFile, toFloat32 } from "../../onnx/read.ts";

const DIR = new URL("../../fixtures/onnx/vgg/", import.meta.url).pathname;

/** ‖a − b‖₂ / ‖b‖₂. */
export function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assertEquals(a.length, b.length, `lengths ${a.length} and ${b.length}`);
  let num = 0, den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i] - b[i]) ** 2;
    den += b[i] ** 2;
  }
  return Math.sqrt(num / den);
}

async function tensor(name: string) {
  const t = await readTensorProtoFile(DIR + name);
  return { data: toFloat32(t), dims: t.dims };
}

/** [x, x flipped along W] as one batch of 2 (the torchvision reference's input). */
function withFlip(x: Float32Array, dims: number[]): Float32Array {
  const [, c, h, w] = dims;
  const out = new Float32Array(2 * x.length);
  out.set(x);
  for (let p = 0; p < c * h; p++) {
    for (let j = 0; j < w; j++) out[x.length + p * w + j] = x[p * w + w - 1 - j];
  }
  return out;
}

const FLAVOURS = [
  { name: "zoo", batch: 1 },
  { name: "torchvision", batch: 2 },
];

for (const f of FLAVOURS) {
  Deno.test(`import ${f.name}.onnx: forward matches PyTorch and ONNX Runtime Web`, async () => {
    await initGpu();
    const x = await tensor("input.pb");
    const input = f.batch === 2 ? withFlip(x.data, x.dims) : x.data;
    const dims = [f.batch, ...x.dims.slice(1)];
    const ref = await tensor(`${f.name}_output.pb`);
    const net = await importOnnxFile(`${DIR}${f.name}.onnx`);
    assert(net.chain, "a VGG graph runs as a chain");
    const out = noGrad(() => tidy(() => net.forward(fromArray(input, dims))));
    const ours = await out.data();
    out.dispose();
    const ort = await ortSession("ort-wasm", await Deno.readFile(`${DIR}${f.name}.onnx`));
    const theirs = (await ort.run(input, dims)).data;
    await ort.release();
    const eTorch = relErr(ours, ref.data), eOrt = relErr(ours, theirs);
    console.log(
      `${f.name}: rel. error vs PyTorch ${eTorch.toExponential(2)}, vs ORT-web ${
        eOrt.toExponential(2)
      }`,
    );
    assert(eTorch <= 1e-4, `vs PyTorch: ${eTorch}`);
    assert(eOrt <= 1e-4, `vs ONNX Runtime Web: ${eOrt}`);
    net.dispose();
  });
}

Deno.test("import: both flavours get torchvision's parameter names; weights move by name", async () => {
  await initGpu();
  const zoo = await importOnnxFile(`${DIR}zoo.onnx`);
  const tv = await importOnnxFile(`${DIR}torchvision.onnx`);
  const names = (n: typeof zoo) => n.namedParameters().map(([k]) => k).sort();
  assertEquals(names(zoo), names(tv));
  // PyTorch's own names, as the torchvision export spells its initializers (a deduplicated
  // bias is the output name of its Identity node).
  const torchNames = [0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28].flatMap((i) => [
    `features.${i}.weight`,
    `features.${i}.bias`,
  ]).concat([0, 3, 6].flatMap((i) => [`classifier.${i}.weight`, `classifier.${i}.bias`]));
  assertEquals(names(tv), torchNames.sort());
  // The deduplicated zero bias is its own tensor in each layer.
  const p = new Map(tv.namedParameters());
  assert(p.get("classifier.0.bias") !== p.get("classifier.3.bias"));
  tv.loadStateDict(await zoo.stateDict());
  zoo.dispose();
  tv.dispose();
});

Deno.test("import: the features part alone matches PyTorch's model.features", async () => {
  await initGpu();
  const x = await tensor("input.pb");
  const ref = await tensor("features_output.pb");
  const net = await importOnnxFile(`${DIR}zoo.onnx`);
  const cut = net.steps.findIndex((s) => s.path === "flatten");
  const out = noGrad(() => tidy(() => runChain(net.modules(0, cut), fromArray(x.data, x.dims))));
  assertEquals([...out.shape], ref.dims);
  const e = relErr(await out.data(), ref.data);
  out.dispose();
  assert(e <= 1e-4, `features: ${e}`);
  net.dispose();
});
