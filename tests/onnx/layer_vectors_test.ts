/**
 * ONNX's own operator vectors for the layer ops: BatchNormalization (inference and
 * training mode), Dropout (inference, and training with and without mask outputs),
 * Flatten (every axis) and NegativeLogLikelihoodLoss (every float variant, the
 * `_expanded` copies too). Each op reports how many vectors ran and asserts a minimum.
 */
import { assert, assertEquals } from "../assert.ts";
import { initGpu } from "../../core/gpu.ts";
import { batchNorm } from "../../core/ops/batchnorm.ts";
import { applyDropoutMask, DropoutGenerator, dropoutWithMask } from "../../core/ops/dropout.ts";
import { nllLoss } from "../../core/ops/nll.ts";
import { reshape } from "../../core/ops/shape.ts";
import { Dropout } from "../../core/nn/dropout.ts";
import { Flatten } from "../../core/nn/activation.ts";
import { fromArray, type Tensor } from "../../core/tensor.ts";
import { attrFloat, attrInt, attrString, DataType, toFloat32 } from "../../onnx/read.ts";
import { listVectors, loadVector, type Vector, type VectorTensor } from "../onnx_vectors.ts";
import { relErr } from "../core/ops/check.ts";

const ran: Record<string, string[]> = {};
function count(op: string, name: string): void {
  (ran[op] ??= []).push(name);
}

function tensor(v: VectorTensor): Tensor {
  return fromArray(toFloat32(v as Parameters<typeof toFloat32>[0]), v.dims);
}

function expectClose(got: Float32Array, want: VectorTensor, tol: number, what: string): void {
  const w = toFloat32(want as Parameters<typeof toFloat32>[0]);
  const e = relErr(got, w);
  assert(e <= tol, `${what}: relative error ${e.toExponential(2)} > ${tol}`);
}

const isFloat = (v: Vector) => v.inputs[0].dataType === DataType.FLOAT;

// ---- BatchNormalization ---------------------------------------------------------------

for (const dir of listVectors("test_batchnorm_")) {
  const name = dir.split("/").pop()!;
  Deno.test(`onnx ${name}`, async () => {
    await initGpu();
    const v = await loadVector(dir);
    const node = v.model.node;
    const eps = attrFloat(node, "epsilon", 1e-5);
    const momentum = attrFloat(node, "momentum", 0.9); // ONNX: running ← m·running + (1 − m)·batch
    const training = attrInt(node, "training_mode", 0) === 1;
    const [x, s, b, mean, vr] = v.inputs.map(tensor);
    const y = batchNorm(x, s, b, mean, vr, {
      training,
      eps,
      momentum: 1 - momentum,
      unbiasedRunningVar: false, // ONNX updates the running variance with the biased one
    });
    expectClose(await y.data(), v.outputs[0], 1e-5, `${name} y`);
    if (training && v.outputs.length > 1) {
      expectClose(await mean.data(), v.outputs[1], 1e-5, `${name} running_mean`);
      expectClose(await vr.data(), v.outputs[2], 1e-5, `${name} running_var`);
    }
    for (const t of [x, s, b, mean, vr, y]) t.dispose();
    count("BatchNormalization", name);
  });
}

// ---- Dropout --------------------------------------------------------------------------

for (const dir of listVectors(/^test_(training_)?dropout/)) {
  const name = dir.split("/").pop()!;
  Deno.test(`onnx ${name}`, async () => {
    await initGpu();
    const v = await loadVector(dir);
    const node = v.model.node;
    const ratio = v.inputs[1] ? toFloat32(v.inputs[1] as never)[0] : attrFloat(node, "ratio", 0.5);
    const training = v.inputs[2] ? toFloat32(v.inputs[2] as never)[0] !== 0 : false;
    const x = tensor(v.inputs[0]);
    const xs = toFloat32(v.inputs[0] as never);
    const wantY = toFloat32(v.outputs[0] as never);
    if (!training) {
      // Inference (and opset-11 dropout without training): the identity, mask all true.
      const layer = new Dropout(ratio).eval();
      const y = layer.forward(x);
      assertEquals([...(await y.data())], [...wantY]);
      if (v.outputs[1]) assert(toFloat32(v.outputs[1] as never).every((m) => m === 1), "mask");
    } else {
      // ONNX's mask comes from its own RNG: apply the given mask (or the one its output
      // implies, y ≠ 0) and check y = x·mask/(1 − ratio) exactly.
      const given = v.outputs[1]
        ? toFloat32(v.outputs[1] as never)
        : Float32Array.from(wantY, (y, i) => (y !== 0 || xs[i] === 0 ? 1 : 0));
      if (!v.outputs[1]) {
        for (let i = 0; i < xs.length; i++) {
          assert(wantY[i] === 0 || given[i] === 1, "implied mask");
        }
      }
      const m = fromArray(given, v.inputs[0].dims);
      const y = applyDropoutMask(x, m, ratio);
      expectClose(await y.data(), v.outputs[0], 1e-6, `${name} y from the mask`);
      // Our own draw on the same input and ratio obeys the same relation with its mask.
      const own = dropoutWithMask(x, ratio, new DropoutGenerator(0));
      const [oy, om] = [await own.y.data(), await own.mask.data()];
      for (let i = 0; i < xs.length; i++) {
        const want = om[i] ? xs[i] / (1 - ratio) : 0;
        assert(Math.abs(oy[i] - want) <= 1e-6 * Math.max(1, Math.abs(want)), `own draw at ${i}`);
      }
      if (ratio === 0) {
        assert(om.every((v) => v === 1), "ratio 0 keeps everything");
        expectClose(oy, v.outputs[0], 0, `${name} ratio 0`);
      }
      for (const t of [m, y, own.y, own.mask]) t.dispose();
    }
    x.dispose();
    count("Dropout", name);
  });
}

// ---- Flatten --------------------------------------------------------------------------

for (const dir of listVectors("test_flatten_")) {
  const name = dir.split("/").pop()!;
  Deno.test(`onnx ${name}`, async () => {
    await initGpu();
    const v = await loadVector(dir);
    const dims = v.inputs[0].dims;
    const r = dims.length;
    let axis = attrInt(v.model.node, "axis", 1);
    if (axis < 0) axis += r;
    const outer = dims.slice(0, axis).reduce((p, d) => p * d, 1);
    const x = tensor(v.inputs[0]);
    const y = axis === 1 ? new Flatten().forward(x) : reshape(x, [outer, x.size / outer]);
    assertEquals([...y.shape], v.outputs[0].dims);
    expectClose(await y.data(), v.outputs[0], 0, name);
    x.dispose();
    count("Flatten", name);
  });
}

// ---- NegativeLogLikelihoodLoss --------------------------------------------------------

for (const dir of listVectors("test_nllloss_")) {
  const name = dir.split("/").pop()!;
  Deno.test(`onnx ${name}`, async () => {
    await initGpu();
    const v = await loadVector(dir);
    if (!isFloat(v)) {
      count("NegativeLogLikelihoodLoss (skipped: not float32)", name);
      return;
    }
    // An `_expanded` graph computes the same function in primitive nodes: take the
    // attributes from its one-node sibling.
    const node = name.endsWith("_expanded")
      ? (await loadVector(dir.replace(/_expanded$/, ""))).model.node
      : v.model.node;
    const reduction = attrString(node, "reduction", "mean") as "none" | "sum" | "mean";
    const ii = attrInt(node, "ignore_index");
    const [x, t, w] = v.inputs.map(tensor);
    const y = nllLoss(x, t, { weight: w, reduction, ignoreIndex: ii });
    assertEquals([...y.shape], v.outputs[0].dims);
    expectClose(await y.data(), v.outputs[0], 1e-5, name);
    for (const k of [x, t, w, y]) k?.dispose();
    count("NegativeLogLikelihoodLoss", name);
  });
}

const MIN: Record<string, number> = {
  BatchNormalization: 4,
  Dropout: 12,
  Flatten: 9,
  NegativeLogLikelihoodLoss: 36,
};

Deno.test("onnx layer vectors: how many ran per op", () => {
  for (const [op, names] of Object.entries(ran)) console.log(`  ${op}: ${names.length} vectors`);
  for (const [op, n] of Object.entries(MIN)) {
    const got = ran[op]?.length ?? 0;
    assert(got >= n, `${op}: ${got} vectors ran, expected at least ${n}`);
  }
});
