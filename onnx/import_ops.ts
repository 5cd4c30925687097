/**
 * The per-operator builders of ONNX import: each checks one node's form (failing with the
 * one-line message otherwise) and adds the engine module for it — Conv, the pools,
 * BatchNormalization, Gemm/MatMul, Add/Sub/Mul/Div, Reshape, Dropout, Resize/Upsample and
 * Softmax/LogSoftmax. Weights are uploaded here, so these need the GPU.
 *
 * @module
 */
import { gpu } from "../core/gpu.ts";
import { BatchNorm } from "../core/nn/batchnorm.ts";
import { Conv2d } from "../core/nn/conv.ts";
import { Dropout } from "../core/nn/dropout.ts";
import type { Tensor } from "../core/tensor.ts";
import { AvgPool2d } from "../plugins/pooling/average.ts";
import { MaxPool2d } from "../plugins/pooling/max.ts";
import type { Padding } from "../plugins/pooling/window.ts";
import { f32, type Importer, ints } from "./import_context.ts";
import {
  BinaryLayer,
  type BinaryOp,
  ConstBinaryLayer,
  GemmLayer,
  MatMulLayer,
  ReshapeLayer,
  SoftmaxLayer,
  UpsampleLayer,
} from "./layers.ts";
import { attrFloat, attrInt, attrInts, attrString, type OnnxNode, tensorSize } from "./read.ts";

function autoPad(
  imp: Importer,
  node: OnnxNode,
  pads: number[] | undefined,
): Exclude<Padding, "same_upper"> {
  const ap = attrString(node, "auto_pad", "NOTSET");
  if (ap === "SAME_UPPER") return "same";
  if (ap === "SAME_LOWER") return "same_lower";
  if (ap === "VALID") return "valid";
  if (ap !== "NOTSET") imp.fail(node, `auto_pad '${ap}' is not supported`);
  const p = pads ?? [0, 0, 0, 0];
  if (p.length !== 4) imp.fail(node, `only 2-D pads are supported, got [${p}]`);
  return [p[0], p[1], p[2], p[3]];
}

function pair(imp: Importer, node: OnnxNode, name: string, dflt: number): [number, number] {
  const v = attrInts(node, name, [dflt, dflt]);
  if (v.length !== 2) imp.fail(node, `only 2-D ${name} are supported, got [${v}]`);
  return [v[0], v[1]];
}

function upload(t: Tensor, data: Float32Array): void {
  gpu().upload(t.buffer, data);
}

/** Conv (2-D, grouped, dilated) → Conv2d with the weight and bias uploaded. */
export function conv(imp: Importer, node: OnnxNode): void {
  const x = imp.tensorIn(node, 0);
  const w = imp.constIn(node, 1, "the weight");
  if (w.dims.length !== 4) {
    imp.fail(node, `only 2-D convolutions are supported (weight [${w.dims}])`);
  }
  const b = node.inputs[2] ? imp.constIn(node, 2, "the bias") : null;
  const group = attrInt(node, "group", 1);
  const [out, cg, kh, kw] = w.dims;
  const ks = attrInts(node, "kernel_shape", [kh, kw]);
  if (ks[0] !== kh || ks[1] !== kw) {
    imp.fail(node, `kernel_shape [${ks}] does not match the weight`);
  }
  const m = new Conv2d(cg * group, out, [kh, kw], {
    stride: pair(imp, node, "strides", 1),
    dilation: pair(imp, node, "dilations", 1),
    padding: autoPad(imp, node, attrInts(node, "pads")),
    groups: group,
    bias: !!b,
  });
  upload(m.weight, f32(w));
  if (b && m.bias) upload(m.bias, f32(b));
  imp.addStep(node, m, [x], node.inputs[1]);
}

/** MaxPool / AveragePool → MaxPool2d / AvgPool2d. */
export function pool(imp: Importer, node: OnnxNode, max: boolean): void {
  const x = imp.tensorIn(node, 0);
  if (node.outputs.length > 1 && node.outputs[1]) {
    imp.fail(node, "the Indices output is not supported");
  }
  const kernel = attrInts(node, "kernel_shape");
  if (!kernel || kernel.length !== 2) imp.fail(node, `only 2-D pooling is supported`);
  const opts = {
    kernel: [kernel[0], kernel[1]] as [number, number],
    stride: pair(imp, node, "strides", 1),
    padding: autoPad(imp, node, attrInts(node, "pads")),
    ceilMode: attrInt(node, "ceil_mode", 0) === 1,
  };
  if (max) {
    imp.addStep(node, new MaxPool2d({ ...opts, dilation: pair(imp, node, "dilations", 1) }), [x]);
  } else {
    if (attrInts(node, "dilations") && attrInts(node, "dilations")!.some((d) => d !== 1)) {
      imp.fail(node, "dilated average pooling is not supported");
    }
    const countIncludePad = attrInt(node, "count_include_pad", 0) === 1;
    imp.addStep(node, new AvgPool2d({ ...opts, countIncludePad }), [x]);
  }
}

/** Inference-form BatchNormalization → BatchNorm with its statistics uploaded. */
export function batchNorm(imp: Importer, node: OnnxNode): void {
  const x = imp.tensorIn(node, 0);
  if (attrInt(node, "training_mode", 0) !== 0 || node.outputs.filter((o) => o).length > 1) {
    imp.fail(node, "only inference-form BatchNormalization (one output) is supported");
  }
  const [scale, bias, mean, variance] = [1, 2, 3, 4].map((k) => imp.constIn(node, k, `input ${k}`));
  const c = scale.dims[0];
  const m = new BatchNorm(c, {
    eps: attrFloat(node, "epsilon", 1e-5),
    momentum: 1 - attrFloat(node, "momentum", 0.9),
  });
  upload(m.weight!, f32(scale));
  upload(m.bias!, f32(bias));
  upload(m.runningMean!, f32(mean));
  upload(m.runningVar!, f32(variance));
  imp.addStep(node, m, [x], node.inputs[1]);
}

/** Gemm → GemmLayer (B constant) or MatMulLayer (a plain product of two tensors). */
export function gemm(imp: Importer, node: OnnxNode): void {
  const bVal = imp.val(node, node.inputs[1]);
  const transA = attrInt(node, "transA", 0) === 1;
  const transB = attrInt(node, "transB", 0) === 1;
  const alpha = attrFloat(node, "alpha", 1), beta = attrFloat(node, "beta", 1);
  if (bVal.kind !== "const") {
    if (transA || transB || alpha !== 1 || node.inputs[2]) {
      imp.fail(node, "Gemm of two runtime tensors is supported only as a plain product");
    }
    imp.addStep(node, new MatMulLayer(), [imp.tensorIn(node, 0), imp.tensorIn(node, 1)]);
    return;
  }
  const x = imp.tensorIn(node, 0);
  const w = bVal.v;
  if (w.dims.length !== 2) imp.fail(node, `B must be 2-D, got [${w.dims}]`);
  const [out, inn] = transB ? w.dims : [w.dims[1], w.dims[0]];
  const wd = f32(w);
  let weight = transB ? wd : transpose2(wd, w.dims[0], w.dims[1]);
  if (alpha !== 1) weight = weight.map((v) => v * alpha);
  let bias: Float32Array | null = null;
  let c: { data: Float32Array; dims: number[] } | null = null;
  if (node.inputs[2]) {
    const cv = imp.constIn(node, 2, "C");
    let cd = f32(cv);
    if (beta !== 1) cd = cd.map((v) => v * beta);
    const n = tensorSize(cv.dims);
    const row = n === out && (cv.dims.length === 1 || (cv.dims.length === 2 && cv.dims[0] === 1));
    if (row) bias = cd;
    else c = { data: cd, dims: cv.dims };
  }
  const m = new GemmLayer(weight, out, inn, bias, c, transA);
  imp.addStep(node, m, [x], node.inputs[1]);
}

function transpose2(a: Float32Array, rows: number, cols: number): Float32Array {
  const t = new Float32Array(a.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) t[c * rows + r] = a[r * cols + c];
  return t;
}

/** MatMul → GemmLayer (x·W, W a 2-D constant) or MatMulLayer (two runtime tensors). */
export function matmulOp(imp: Importer, node: OnnxNode): void {
  const bVal = imp.val(node, node.inputs[1]);
  const aVal = imp.val(node, node.inputs[0]);
  if (aVal.kind === "tensor" && bVal.kind === "const" && bVal.v.dims.length === 2) {
    const [k, n] = bVal.v.dims;
    const m = new GemmLayer(transpose2(f32(bVal.v), k, n), n, k, null);
    imp.addStep(node, m, [aVal.name], node.inputs[1]);
  } else if (aVal.kind === "tensor" && bVal.kind === "tensor") {
    imp.addStep(node, new MatMulLayer(), [aVal.name, bVal.name]);
  } else {imp.fail(
      node,
      "only x·W (W a 2-D constant) or a product of two runtime tensors is supported",
    );}
}

/** Add/Sub/Mul/Div → BinaryLayer, ConstBinaryLayer, or a CPU value when both are known. */
export function binary(imp: Importer, node: OnnxNode): void {
  const op = node.opType as BinaryOp;
  const [a, b] = [0, 1].map((k) => imp.val(node, node.inputs[k]));
  if (a.kind === "tensor" && b.kind === "tensor") {
    imp.addStep(node, new BinaryLayer(op), [a.name, b.name]);
  } else if (a.kind === "tensor" && b.kind === "const") {
    imp.addStep(node, new ConstBinaryLayer(op, { data: f32(b.v), dims: b.v.dims }, false), [
      a.name,
    ]);
  } else if (a.kind === "const" && b.kind === "tensor") {
    imp.addStep(node, new ConstBinaryLayer(op, { data: f32(a.v), dims: a.v.dims }, true), [b.name]);
  } else {
    imp.cpuOut(node, (get) => {
      const x = get(0), y = get(1);
      const f = {
        Add: (p: number, q: number) => p + q,
        Sub: (p: number, q: number) => p - q,
        Mul: (p: number, q: number) => p * q,
        Div: (p: number, q: number) => p / q,
      }[op];
      const n = Math.max(x.data.length, y.data.length);
      const data = Array.from(
        { length: n },
        (_, i) => f(x.data[x.data.length === 1 ? 0 : i], y.data[y.data.length === 1 ? 0 : i]),
      );
      return { dims: x.data.length >= y.data.length ? x.dims : y.dims, data, float: x.float };
    });
  }
}

/** Reshape → ReshapeLayer (target constant or from shapes), or a CPU value of a constant. */
export function reshapeOp(imp: Importer, node: OnnxNode): void {
  const data = imp.val(node, node.inputs[0]);
  const shape = imp.val(node, node.inputs[1]);
  if (data.kind !== "tensor") {
    imp.cpuOut(node, (get) => {
      const v = get(0), s = ints(get(1));
      const dims = s.map((d, k) => (d === 0 ? v.dims[k] : d));
      const known = dims.filter((d) => d !== -1).reduce((p, d) => p * d, 1);
      return { ...v, dims: dims.map((d) => (d === -1 ? v.data.length / known : d)) };
    });
    return;
  }
  const allowzero = attrInt(node, "allowzero", 0) === 1;
  let target: (x: Tensor) => number[];
  if (shape.kind === "const") {
    const s = ints(shape.v);
    target = () => s;
  } else if (shape.kind === "dyn") {
    const unknown = shape.reads.filter((r) => r !== data.name);
    if (unknown.length) {
      imp.fail(node, `the target shape depends on the shape of '${unknown[0]}'`);
    }
    target = (x) => ints(shape.f(new Map([[data.name, x.shape]])));
  } else imp.fail(node, "the target shape must be computed from shapes or constants");
  imp.addStep(node, new ReshapeLayer(target, allowzero), [data.name]);
}
/** Dropout → Dropout (the mask output unused). */
export function dropout(imp: Importer, node: OnnxNode): void {
  const x = imp.tensorIn(node, 0);
  let ratio = attrFloat(node, "ratio", 0.5);
  if (node.inputs[1]) ratio = f32(imp.constIn(node, 1, "ratio"))[0];
  if (node.outputs[1] && imp.model.graph.nodes.some((n) => n.inputs.includes(node.outputs[1]))) {
    imp.fail(node, "the mask output is not supported");
  }
  imp.addStep(node, new Dropout(ratio), [x]);
}

/** Resize / Upsample (nearest, whole-number spatial factors) → UpsampleLayer. */
export function resize(imp: Importer, node: OnnxNode): void {
  const x = imp.tensorIn(node, 0);
  const mode = attrString(node, "mode", "nearest");
  if (mode !== "nearest") {
    imp.fail(node, `mode '${mode}' is not supported (only nearest upsampling)`);
  }
  const ctm = attrString(node, "coordinate_transformation_mode", "half_pixel");
  if (ctm === "align_corners" || ctm === "tf_crop_and_resize") {
    imp.fail(node, `coordinate_transformation_mode '${ctm}' is not supported`);
  }
  // opset 10 / Upsample: (X, scales); opset 11+: (X, roi, scales, sizes).
  const scalesIdx = node.opType === "Upsample" || imp.opset < 11 ? 1 : 2;
  let scales: number[] | null = null;
  if (node.inputs[scalesIdx]) {
    const s = imp.constIn(node, scalesIdx, "scales");
    if (s.data.length) scales = Array.from(s.data);
  }
  if (!scales && node.attributes.scales) scales = node.attributes.scales.value as number[];
  if (!scales) {
    imp.fail(
      node,
      "Resize by `sizes` needs the input size; only constant whole-number scales are supported",
    );
  }
  if (scales.length !== 4 || scales[0] !== 1 || scales[1] !== 1) {
    imp.fail(node, `only spatial scales of an NCHW input are supported, got [${scales}]`);
  }
  const [sh, sw] = [scales[2], scales[3]];
  if (!Number.isInteger(sh) || !Number.isInteger(sw) || sh < 1 || sw < 1) {
    imp.fail(node, `only whole-number upsampling factors are supported, got [${scales}]`);
  }
  imp.addStep(node, new UpsampleLayer(sh, sw), [x]);
}

/** Softmax / LogSoftmax → SoftmaxLayer (opset < 13 coerces to 2-D). */
export function softmaxOp(imp: Importer, node: OnnxNode, log: boolean): void {
  const x = imp.tensorIn(node, 0);
  const coerce = imp.opset < 13;
  const axis = attrInt(node, "axis", coerce ? 1 : -1);
  imp.addStep(node, new SoftmaxLayer(axis, coerce, log), [x]);
}
