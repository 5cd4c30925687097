/**
 * ONNX's own operator test vectors (Debian's libonnx-testdata) for the pooling plugins:
 * MaxPool 2-D (every variant; for the vectors with a second `Indices` output only Y is
 * checked), AveragePool 2-D (every variant), GlobalAveragePool, GlobalMaxPool and LpPool
 * where present. 1-D and 3-D cases are listed as skipped. The last test reports how many
 * vectors ran per operator and asserts a minimum.
 */
import { assert } from "../assert.ts";
import { initGpu } from "../../core/gpu.ts";
import { fromArray, type Tensor } from "../../core/tensor.ts";
import { attrInt, attrInts, attrString, type OnnxNode } from "../../onnx/read.ts";
import { avgPool2d } from "../../plugins/pooling/average.ts";
import { globalAvgPool2d, globalMaxPool2d } from "../../plugins/pooling/global.ts";
import { lpPool2d } from "../../plugins/pooling/lp.ts";
import { maxPool2d } from "../../plugins/pooling/max.ts";
import type { PoolPadding, WindowOptions } from "../../plugins/pooling/window.ts";
import { listVectors, loadVector, type VectorTensor } from "../onnx_vectors.ts";

/** ONNX attributes → the plugins' window options (ONNX's stride default is 1). */
function windowOf(node: OnnxNode): WindowOptions {
  const k = attrInts(node, "kernel_shape")!;
  const autoPad = attrString(node, "auto_pad", "NOTSET");
  const padding: PoolPadding = autoPad === "SAME_UPPER"
    ? "same_upper"
    : autoPad === "SAME_LOWER"
    ? "same_lower"
    : autoPad === "VALID"
    ? "valid"
    : (attrInts(node, "pads", [0, 0, 0, 0]) as [number, number, number, number]);
  return {
    kernel: [k[0], k[1]],
    stride: attrInts(node, "strides", [1, 1]) as [number, number],
    dilation: attrInts(node, "dilations", [1, 1]) as [number, number],
    padding,
    ceilMode: attrInt(node, "ceil_mode", 0) === 1,
  };
}

const ops: Record<string, (x: Tensor, node: OnnxNode) => Tensor> = {
  MaxPool: (x, n) => maxPool2d(x, windowOf(n)),
  AveragePool: (x, n) =>
    avgPool2d(x, { ...windowOf(n), countIncludePad: attrInt(n, "count_include_pad", 0) === 1 }),
  LpPool: (x, n) => lpPool2d(x, { ...windowOf(n), p: attrInt(n, "p", 2) }),
  GlobalAveragePool: (x) => globalAvgPool2d(x),
  GlobalMaxPool: (x) => globalMaxPool2d(x),
};

/** Minimum number of vectors that must run per operator (what Debian's package holds). */
const MINIMUM: Record<string, number> = {
  MaxPool: 13,
  AveragePool: 11,
  GlobalAveragePool: 2,
  GlobalMaxPool: 2,
  LpPool: 0,
};

const ran: Record<string, string[]> = {};
const skipped: string[] = [];
const dirs = listVectors(/^test_(maxpool|averagepool|globalaveragepool|globalmaxpool|lppool)/);

/** Float32 values of a float or integer (uint8 …) vector tensor. */
function values(t: VectorTensor): Float32Array {
  if (Array.isArray(t.data)) throw new Error(`${t.name}: not a numeric tensor`);
  return Float32Array.from(t.data as ArrayLike<number>, Number);
}

for (const dir of dirs) {
  const name = dir.split("/").pop()!;
  if (/_(1d|3d)_/.test(name)) {
    skipped.push(name);
    continue;
  }
  Deno.test(name, async () => {
    await initGpu();
    const v = await loadVector(dir);
    const node = v.model.node;
    const op = ops[node.opType];
    assert(op, `${name}: no pooling plugin for ${node.opType}`);
    for (const set of v.sets) {
      const x = fromArray(values(set.inputs[0]), set.inputs[0].dims.map(Number));
      const y = op(x, node);
      const want = set.outputs[0];
      const shape = want.dims.map(Number);
      assert(
        y.shape.length === shape.length && y.shape.every((d, k) => d === shape[k]),
        `${name}: shape [${y.shape}], ONNX [${shape}]`,
      );
      const got = await y.data();
      const ref = values(want);
      let worst = 0;
      for (let i = 0; i < ref.length; i++) {
        const e = Math.abs(got[i] - ref[i]) / Math.max(1, Math.abs(ref[i]));
        worst = Math.max(worst, e);
      }
      assert(worst <= 1e-5, `${name}: worst relative error ${worst.toExponential(2)}`);
      x.dispose();
      y.dispose();
    }
    (ran[node.opType] ??= []).push(name);
  });
}

Deno.test("pooling vectors: report and minimum counts", () => {
  const lines = Object.keys(MINIMUM).map((op) => `${op} ${ran[op]?.length ?? 0}`);
  console.log(
    `ONNX pooling vectors run: ${lines.join(", ")}; skipped (not 2-D): ${skipped.join(", ")}`,
  );
  for (const [op, min] of Object.entries(MINIMUM)) {
    const n = ran[op]?.length ?? 0;
    assert(n >= min, `${op}: ${n} vectors passed, expected at least ${min}`);
  }
});
