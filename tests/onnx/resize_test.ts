/**
 * Resize and Slice, the two operators torchvision exports produce away from 224×224:
 *
 * - the resize kernel (core/ops/resize.ts) against its float64 reference, forward and
 *   finite-difference gradient, for bilinear and nearest with each coordinate rule, up and
 *   down, on odd shapes;
 * - ONNX's own Resize/Upsample test vectors (Debian's libonnx-testdata) in every linear
 *   and nearest form, run through the importer (the vector's scales/sizes inputs become
 *   initializers) — cubic and tf_crop_and_resize are listed as skipped;
 * - ONNX's Slice vectors through the constant folder's `sliceValue`.
 */
import { assert, assertEquals } from "../assert.ts";
import { checkOp } from "../core/ops/check.ts";
import { noGrad } from "../../core/autograd.ts";
import { initGpu } from "../../core/gpu.ts";
import { resize2d } from "../../core/ops/resize.ts";
import { type ResizeOptions, resizeRef } from "../../core/ops/resize_ref.ts";
import { fromArray, tidy } from "../../core/tensor.ts";
import { ResizeLayer, UpsampleLayer } from "../../onnx/codecs/resize.ts";
import { importOnnx } from "../../onnx/import.ts";
import { sliceValue } from "../../onnx/import_fold.ts";
import { attrString } from "../../onnx/read.ts";
import { listVectors, loadVector, type VectorTensor } from "../onnx_vectors.ts";

const FORMS: Omit<ResizeOptions, "size">[] = [
  { coordinate: "align_corners" },
  { coordinate: "half_pixel" },
  { coordinate: "pytorch_half_pixel" },
  { coordinate: "asymmetric" },
  { mode: "nearest", coordinate: "asymmetric", nearest: "floor" },
  { mode: "nearest", coordinate: "half_pixel", nearest: "round_prefer_ceil" },
  { mode: "nearest", coordinate: "align_corners", nearest: "round_prefer_floor" },
];

for (const form of FORMS) {
  const what = `${form.mode ?? "linear"} ${form.coordinate} ${form.nearest ?? ""}`.trim();
  Deno.test(`resize2d ${what}: forward and gradient match the reference`, async () => {
    for (const size of [[11, 4], [1, 9]] as [number, number][]) {
      const opts = { ...form, size };
      await checkOp((x) => resize2d(x, opts), (xs, s) => resizeRef(xs[0], s[0], opts), [
        [2, 3, 5, 7],
      ], { probes: 20 });
    }
  });
}

// ---- ONNX's operator vectors -------------------------------------------------------------

function floats(t: VectorTensor): Float32Array {
  return Float32Array.from(t.data as ArrayLike<number>, Number);
}

/**
 * Where ONNX 1.12's reference output differs from ONNX Runtime and PyTorch: align_corners
 * by scale 0.6 of a width of 4 gives 2 outputs; ONNX's reference divides by the unrounded
 * length 2.4 − 1 (→ [1, 3.142857]), ONNX Runtime and PyTorch by the output length 2 − 1
 * (→ [1, 4]), as this importer does.
 */
const DISAGREE: Record<string, number[]> = {
  test_resize_downsample_scales_linear_align_corners: [1, 4],
};

const ran: string[] = [];
const skipped: string[] = [];

for (const dir of listVectors(/^test_(resize|upsample)_/)) {
  const name = dir.split("/").pop()!;
  const v = await loadVector(dir);
  const node = v.model.nodes.find((n) => n.opType === "Resize" || n.opType === "Upsample")!;
  const mode = attrString(node, "mode", "nearest");
  const ctm = attrString(node, "coordinate_transformation_mode", "half_pixel");
  if (mode === "cubic" || ctm === "tf_crop_and_resize") {
    skipped.push(name);
    continue;
  }
  Deno.test(`ONNX vector ${name} through the importer`, async () => {
    await initGpu();
    for (const set of v.sets) {
      // The graph input X stays an input; scales / sizes become initializers.
      const model = v.model.onnx;
      const [x, ...rest] = model.graph.inputs;
      const g = { ...model.graph, inputs: [x], initializers: new Map(model.graph.initializers) };
      rest.forEach((info, k) => g.initializers.set(info.name, { ...set.inputs[k + 1] }));
      const net = importOnnx({ ...model, graph: g });
      const m = net.steps[0].module;
      assert(m instanceof ResizeLayer || m instanceof UpsampleLayer, `${name}: ${m}`);
      const xt = set.inputs[0];
      const y = noGrad(() => tidy(() => net.forward(fromArray(floats(xt), xt.dims))));
      assertEquals([...y.shape], set.outputs[0].dims, `${name}: shape`);
      const got = await y.data();
      const want = name in DISAGREE ? Float32Array.from(DISAGREE[name]) : floats(set.outputs[0]);
      y.dispose();
      net.dispose();
      const worst = got.reduce(
        (w, a, i) => Math.max(w, Math.abs(a - want[i]) / Math.max(1, Math.abs(want[i]))),
        0,
      );
      assert(worst <= 1e-5, `${name}: worst relative error ${worst.toExponential(2)}`);
    }
    ran.push(`${name} (${mode})`);
  });
}

// Slice vectors: the folder's slice on the constant inputs (starts, ends, axes, steps).
for (const dir of listVectors(/^test_slice/)) {
  const name = dir.split("/").pop()!;
  Deno.test(`ONNX vector ${name} through the constant folder`, async () => {
    const v = await loadVector(dir);
    const [data, ...args] = v.inputs;
    const ints = (t?: VectorTensor) =>
      t ? Array.from(t.data as ArrayLike<number | bigint>, Number) : undefined;
    const cpu = { dims: data.dims, data: Array.from(floats(data)), float: true };
    const out = sliceValue(cpu, ints(args[0])!, ints(args[1])!, ints(args[2]), ints(args[3]));
    assertEquals(out.dims, v.outputs[0].dims, `${name}: shape`);
    assertEquals(Array.from(out.data), Array.from(floats(v.outputs[0])), `${name}: values`);
    ran.push(name);
  });
}

Deno.test("resize vectors: report and minimum counts", () => {
  console.log(`ran ${ran.length}: ${ran.join(", ")}; skipped (cubic, crop): ${skipped.join(", ")}`);
  const count = (re: RegExp) => ran.filter((n) => re.test(n)).length;
  assert(count(/\(linear\)/) >= 5, "the five linear Resize vectors");
  assert(count(/\(nearest\)/) >= 7, "the nearest Resize / Upsample vectors");
  assert(count(/^test_slice/) >= 8, "the Slice vectors");
});
