/**
 * ONNX's own Conv operator vectors (Debian's libonnx-testdata): every float Conv case
 * present (`test_basic_conv_*`, `test_conv_*`; ConvInteger, QLinearConv and ConvTranspose
 * are other operators), each data set run through conv2d and compared elementwise.
 */
import { assert } from "../assert.ts";
import { listVectors, loadVector, type VectorTensor } from "../onnx_vectors.ts";
import { attrInt, attrInts, attrString, type OnnxNode } from "../../onnx/read.ts";
import { conv2d, type Conv2dOpOptions, type Padding } from "../../core/ops/conv.ts";
import { initGpu } from "../../core/gpu.ts";
import { fromArray, tidy } from "../../core/tensor.ts";

/** Conv attributes → conv2d options (2-D only). */
function optionsOf(node: OnnxNode, wDims: number[]): Conv2dOpOptions {
  const k = attrInts(node, "kernel_shape", wDims.slice(2));
  if (k.length !== 2 || k[0] !== wDims[2] || k[1] !== wDims[3]) {
    throw new Error(`kernel_shape [${k}] does not match weight [${wDims}]`);
  }
  const autoPad = attrString(node, "auto_pad", "NOTSET");
  const pads = attrInts(node, "pads", [0, 0, 0, 0]);
  const padding: Padding = autoPad === "SAME_UPPER"
    ? "same"
    : autoPad === "SAME_LOWER"
    ? "same_lower"
    : autoPad === "VALID"
    ? "valid"
    : [pads[0], pads[1], pads[2], pads[3]];
  const s = attrInts(node, "strides", [1, 1]), d = attrInts(node, "dilations", [1, 1]);
  return {
    stride: [s[0], s[1]],
    dilation: [d[0], d[1]],
    padding,
    groups: attrInt(node, "group", 1),
  };
}

const f32 = (t: VectorTensor) => t.data as Float32Array;
const dirs = listVectors(/^test_(basic_)?conv_/).filter((d) => !/integer|transpose/.test(d));
let ran = 0;

for (const dir of dirs) {
  const name = dir.split("/").pop()!;
  Deno.test(`ONNX ${name}`, async () => {
    await initGpu();
    const v = await loadVector(dir);
    if (v.model.node.opType !== "Conv") throw new Error(`${name}: op ${v.model.node.opType}`);
    for (const set of v.sets) {
      const [x, w, b] = set.inputs;
      const opts = optionsOf(v.model.node, w.dims);
      const y = tidy(() =>
        conv2d(
          fromArray(f32(x), x.dims),
          fromArray(f32(w), w.dims),
          b ? fromArray(f32(b), b.dims) : null,
          opts,
        )
      );
      const want = set.outputs[0];
      assert(
        JSON.stringify(y.shape) === JSON.stringify(want.dims),
        `${name}: shape [${y.shape}] vs [${want.dims}]`,
      );
      const got = await y.data();
      y.dispose();
      f32(want).forEach((e, i) => {
        assert(
          Math.abs(got[i] - e) <= 1e-4 * Math.max(1, Math.abs(e)),
          `${name}[${i}]: ${got[i]} vs ${e}`,
        );
      });
    }
    ran++;
  });
}

Deno.test("ONNX Conv: every float Conv vector present ran (at least 6)", () => {
  console.log(`ONNX Conv vectors run: ${ran} of ${dirs.length}`);
  assert(dirs.length >= 6, `expected at least 6 Conv vectors, found ${dirs.length}`);
  assert(ran === dirs.length, `${ran} of ${dirs.length} ran`);
});
