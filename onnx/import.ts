/**
 * ONNX import: a read graph → engine modules with PyTorch-style parameter names.
 *
 * Every node is checked before any module is built, so an unsupported operator (or an
 * unsupported form of a supported one) fails at load time with one line naming the file,
 * the operator, the node and the opset. Then:
 *
 * - Conv → Conv2d, BatchNormalization → BatchNorm, Relu/Sigmoid/Tanh → activations,
 *   MaxPool/AveragePool/GlobalAveragePool/GlobalMaxPool → the pooling plugins, Dropout →
 *   Dropout, Gemm/MatMul by a constant → `GemmLayer` (weight [out, in] as Linear's),
 *   Flatten, Reshape, Softmax/LogSoftmax (both opset rules), Add/Sub/Mul/Div, Concat,
 *   Transpose, Resize (nearest, whole factors: the adaptive-pool form).
 * - Identity and Constant only rename or add values; Shape/Gather/Unsqueeze/Concat/Squeeze/
 *   Cast on shapes and constants are evaluated on the CPU — at import when they depend on
 *   constants only, at run time from the tensors' shapes when they use Shape (so a Reshape
 *   written for a fixed batch of 1 still works for a batch of 8).
 *
 * Names: a weight initializer named like `features.0.weight` gives the module path
 * `features.0`; PyTorch's node names (`/features/features.1/Relu`) name parameterless
 * steps; otherwise (the ONNX zoo's `vgg0_conv0_weight`) paths are assigned as torchvision
 * numbers VGG: `features.i` up to the flatten, `avgpool` for a pool right before it,
 * `classifier.j` after it — so a torchvision state dict loads into either flavour.
 *
 * @module
 */
import { gpu } from "../core/gpu.ts";
import { ReLU, Sigmoid, Tanh } from "../core/nn/activation.ts";
import { BatchNorm } from "../core/nn/batchnorm.ts";
import { Conv2d } from "../core/nn/conv.ts";
import { Dropout } from "../core/nn/dropout.ts";
import type { Module } from "../core/nn/module.ts";
import type { Tensor } from "../core/tensor.ts";
import { AvgPool2d } from "../plugins/pooling/average.ts";
import { GlobalAvgPool2d, GlobalMaxPool2d } from "../plugins/pooling/global.ts";
import { MaxPool2d } from "../plugins/pooling/max.ts";
import type { Padding } from "../plugins/pooling/window.ts";
import { type GraphStep, OnnxNet } from "./graph_module.ts";
import {
  BinaryLayer,
  type BinaryOp,
  ConcatLayer,
  ConstBinaryLayer,
  FlattenLayer,
  GemmLayer,
  IdentityLayer,
  MatMulLayer,
  ReshapeLayer,
  SoftmaxLayer,
  TransposeLayer,
  UpsampleLayer,
} from "./layers.ts";
import {
  attrFloat,
  attrInt,
  attrInts,
  attrString,
  attrTensor,
  DataType,
  type OnnxModel,
  type OnnxNode,
  type OnnxTensor,
  opsetVersion,
  readOnnxFile,
  type ReadOptions,
  tensorSize,
  toFloat32,
} from "./read.ts";

/** An import problem; the message is one line naming the file, node and operator. */
export class OnnxImportError extends Error {
  /** Builds the error from its one-line message. */
  constructor(message: string) {
    super(message.replace(/\s*\n\s*/g, " "));
    this.name = "OnnxImportError";
  }
}

/** The operators `importOnnx` accepts (in some forms; others fail at load time). */
export const SUPPORTED_OPS: readonly string[] = [
  "Add",
  "AveragePool",
  "BatchNormalization",
  "Cast",
  "Concat",
  "Constant",
  "Conv",
  "Div",
  "Dropout",
  "Flatten",
  "Gather",
  "Gemm",
  "GlobalAveragePool",
  "GlobalMaxPool",
  "Identity",
  "LogSoftmax",
  "MatMul",
  "MaxPool",
  "Mul",
  "Relu",
  "Reshape",
  "Resize",
  "Shape",
  "Sigmoid",
  "Softmax",
  "Squeeze",
  "Sub",
  "Tanh",
  "Transpose",
  "Unsqueeze",
  "Upsample",
];

/** Options of `importOnnx`. */
export interface ImportOptions {
  /** Name for messages (the file path). */
  file?: string;
  /** Keep the read model on the net (`net.source`) for `cutModel` (default true). */
  keepSource?: boolean;
}

/** A constant known on the CPU: dims and elements (float32 or plain numbers). */
interface CpuValue {
  dims: number[];
  data: Float32Array | number[];
  float: boolean;
}

/** Shapes of runtime tensors by value name, as a forward pass knows them. */
type Shapes = Map<string, readonly number[]>;

type Val =
  | { kind: "tensor"; name: string }
  | { kind: "const"; v: CpuValue; init?: string }
  | { kind: "dyn"; f: (shapes: Shapes) => CpuValue; reads: string[] };

const FLOATISH: number[] = [DataType.FLOAT, DataType.DOUBLE, DataType.FLOAT16, DataType.BFLOAT16];

function cpuOf(t: OnnxTensor): CpuValue {
  const float = FLOATISH.includes(t.dataType);
  if (float) return { dims: [...t.dims], data: toFloat32(t), float };
  const d = t.data;
  if (Array.isArray(d)) throw new Error(`STRING tensor '${t.name}'`);
  return {
    dims: [...t.dims],
    data: Array.from(d as ArrayLike<number | bigint>, (v) => Number(v)),
    float,
  };
}

function f32(v: CpuValue): Float32Array {
  return v.data instanceof Float32Array ? v.data : Float32Array.from(v.data);
}

function ints(v: CpuValue): number[] {
  return Array.from(v.data, (x) => Math.trunc(x));
}

/** Import context: values, steps and the error helper for one graph. */
class Importer {
  readonly vals = new Map<string, Val>();
  readonly steps: GraphStep[] = [];
  readonly opset: number;
  readonly file: string;
  /** Original initializer name per module path candidate (first weight input). */
  readonly weightNames = new Map<GraphStep, string>();

  constructor(readonly model: OnnxModel, file: string) {
    this.opset = opsetVersion(model);
    this.file = file;
  }

  fail(node: OnnxNode, problem: string): never {
    const nm = node.name ? `'${node.name}'` : `#${this.model.graph.nodes.indexOf(node)}`;
    throw new OnnxImportError(
      `${this.file}: ${problem} (operator '${node.opType}', node ${nm}, opset ${this.opset})`,
    );
  }

  val(node: OnnxNode, name: string): Val {
    const v = this.vals.get(name);
    if (!v) this.fail(node, `input '${name}' is not defined before use`);
    return v;
  }

  /** A constant input (static, or computable from shapes only). */
  constIn(node: OnnxNode, k: number, what: string): CpuValue {
    const v = this.val(node, node.inputs[k]);
    if (v.kind !== "const") this.fail(node, `${what} must be a constant`);
    return v.v;
  }

  tensorIn(node: OnnxNode, k: number): string {
    const v = this.val(node, node.inputs[k]);
    if (v.kind !== "tensor") this.fail(node, `input ${k} must be a runtime tensor`);
    return v.name;
  }

  /** Registers a step for `node` whose runtime inputs are `inputs`. */
  addStep(node: OnnxNode, module: Module, inputs: string[], weight?: string): void {
    const step: GraphStep = { node, path: "", module, inputs, output: node.outputs[0] };
    this.steps.push(step);
    if (weight) this.weightNames.set(step, weight);
    this.vals.set(node.outputs[0], { kind: "tensor", name: node.outputs[0] });
  }

  /** Sets a CPU output: static when every input is, else computed from shapes. */
  cpuOut(node: OnnxNode, compute: (get: (k: number) => CpuValue) => CpuValue): void {
    const ins = node.inputs.map((n) => (n ? this.val(node, n) : null));
    if (ins.some((v) => v?.kind === "tensor")) {
      this.fail(node, "only shape computations are supported (an input is a runtime tensor)");
    }
    const out = node.outputs[0];
    if (ins.every((v) => !v || v.kind === "const")) {
      const v = compute((k) => (ins[k] as { v: CpuValue }).v);
      this.vals.set(out, { kind: "const", v });
      return;
    }
    const reads = [...new Set(ins.flatMap((v) => (v?.kind === "dyn" ? v.reads : [])))];
    this.vals.set(out, {
      kind: "dyn",
      reads,
      f: (shapes) =>
        compute((k) => {
          const v = ins[k]!;
          return v.kind === "const" ? v.v : (v as { f: (s: Shapes) => CpuValue }).f(shapes);
        }),
    });
  }
}

// ---- per-operator builders --------------------------------------------------------------

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

function conv(imp: Importer, node: OnnxNode): void {
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

function pool(imp: Importer, node: OnnxNode, max: boolean): void {
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

function batchNorm(imp: Importer, node: OnnxNode): void {
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

function gemm(imp: Importer, node: OnnxNode): void {
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

function matmulOp(imp: Importer, node: OnnxNode): void {
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

function binary(imp: Importer, node: OnnxNode): void {
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

function reshapeOp(imp: Importer, node: OnnxNode): void {
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

function shapeOp(imp: Importer, node: OnnxNode): void {
  const v = imp.val(node, node.inputs[0]);
  const start = attrInt(node, "start", 0), end = attrInt(node, "end");
  const cut = (dims: readonly number[]) => {
    const r = dims.length;
    const s = start < 0 ? start + r : start, e = end === undefined ? r : end < 0 ? end + r : end;
    return dims.slice(s, e);
  };
  if (v.kind === "tensor") {
    const name = v.name;
    imp.vals.set(node.outputs[0], {
      kind: "dyn",
      reads: [name],
      f: (shapes) => {
        const sh = shapes.get(name);
        if (!sh) throw new Error(`${imp.file}: shape of '${name}' unknown at '${node.name}'`);
        const d = cut(sh);
        return { dims: [d.length], data: d, float: false };
      },
    });
  } else {imp.cpuOut(node, (get) => {
      const d = cut(get(0).dims);
      return { dims: [d.length], data: d, float: false };
    });}
}

function axesOf(node: OnnxNode, get: (k: number) => CpuValue): number[] {
  const a = attrInts(node, "axes");
  if (a) return a;
  if (node.inputs[1]) return ints(get(1));
  return [];
}

function cpuShapeOps(imp: Importer, node: OnnxNode): void {
  switch (node.opType) {
    case "Gather":
      return imp.cpuOut(node, (get) => {
        const data = get(0), idx = get(1);
        const axis = attrInt(node, "axis", 0);
        if (data.dims.length > 1 || axis !== 0) {
          imp.fail(node, "only 1-D Gather on shapes is supported");
        }
        const n = data.data.length;
        const out = Array.from(idx.data, (i) => data.data[i < 0 ? i + n : i]);
        return { dims: idx.dims, data: out, float: data.float };
      });
    case "Unsqueeze":
      return imp.cpuOut(node, (get) => {
        const v = get(0);
        const axes = axesOf(node, get);
        const dims = [...v.dims];
        const r = dims.length + axes.length;
        for (const a of axes.map((a) => (a < 0 ? a + r : a)).sort((p, q) => p - q)) {
          dims.splice(a, 0, 1);
        }
        return { ...v, dims };
      });
    case "Squeeze":
      return imp.cpuOut(node, (get) => {
        const v = get(0);
        const axes = axesOf(node, get).map((a) => (a < 0 ? a + v.dims.length : a));
        const dims = v.dims.filter((d, k) => (axes.length ? !axes.includes(k) : d !== 1));
        return { ...v, dims };
      });
    case "Concat":
      return imp.cpuOut(node, (get) => {
        const vs = node.inputs.map((_, k) => get(k));
        if (vs.some((v) => v.dims.length > 1)) {
          imp.fail(node, "only 1-D Concat on shapes is supported");
        }
        const data = vs.flatMap((v) => Array.from(v.data));
        return { dims: [data.length], data, float: vs[0].float };
      });
    case "Cast":
      return imp.cpuOut(node, (get) => {
        const v = get(0);
        const float = FLOATISH.includes(attrInt(node, "to", 1));
        return { dims: v.dims, data: float ? f32(v) : ints(v), float };
      });
  }
}

function constant(imp: Importer, node: OnnxNode): void {
  const t = attrTensor(node, "value");
  let v: CpuValue;
  if (t) v = cpuOf(t);
  else if (node.attributes.value_float) {
    v = { dims: [], data: [attrFloat(node, "value_float")!], float: true };
  } else if (node.attributes.value_floats) {
    const d = node.attributes.value_floats.value as number[];
    v = { dims: [d.length], data: Float32Array.from(d), float: true };
  } else if (node.attributes.value_int) {
    v = { dims: [], data: [attrInt(node, "value_int")!], float: false };
  } else if (node.attributes.value_ints) {
    const d = attrInts(node, "value_ints")!;
    v = { dims: [d.length], data: d, float: false };
  } else imp.fail(node, "only tensor, float(s) and int(s) constants are supported");
  imp.vals.set(node.outputs[0], { kind: "const", v });
}

function dropout(imp: Importer, node: OnnxNode): void {
  const x = imp.tensorIn(node, 0);
  let ratio = attrFloat(node, "ratio", 0.5);
  if (node.inputs[1]) ratio = f32(imp.constIn(node, 1, "ratio"))[0];
  if (node.outputs[1] && imp.model.graph.nodes.some((n) => n.inputs.includes(node.outputs[1]))) {
    imp.fail(node, "the mask output is not supported");
  }
  imp.addStep(node, new Dropout(ratio), [x]);
}

function resize(imp: Importer, node: OnnxNode): void {
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

function softmaxOp(imp: Importer, node: OnnxNode, log: boolean): void {
  const x = imp.tensorIn(node, 0);
  const coerce = imp.opset < 13;
  const axis = attrInt(node, "axis", coerce ? 1 : -1);
  imp.addStep(node, new SoftmaxLayer(axis, coerce, log), [x]);
}

function build(imp: Importer, node: OnnxNode): void {
  if (node.domain && node.domain !== "ai.onnx") {
    imp.fail(node, `operator domain '${node.domain}' is not supported`);
  }
  const op = node.opType;
  switch (op) {
    case "Conv":
      return conv(imp, node);
    case "Relu":
      return imp.addStep(node, new ReLU(), [imp.tensorIn(node, 0)]);
    case "Sigmoid":
      return imp.addStep(node, new Sigmoid(), [imp.tensorIn(node, 0)]);
    case "Tanh":
      return imp.addStep(node, new Tanh(), [imp.tensorIn(node, 0)]);
    case "MaxPool":
      return pool(imp, node, true);
    case "AveragePool":
      return pool(imp, node, false);
    case "GlobalAveragePool":
      return imp.addStep(node, new GlobalAvgPool2d(), [imp.tensorIn(node, 0)]);
    case "GlobalMaxPool":
      return imp.addStep(node, new GlobalMaxPool2d(), [imp.tensorIn(node, 0)]);
    case "BatchNormalization":
      return batchNorm(imp, node);
    case "Flatten": {
      const v = imp.val(node, node.inputs[0]);
      if (v.kind !== "tensor") imp.fail(node, "Flatten of a constant is not supported");
      return imp.addStep(node, new FlattenLayer(attrInt(node, "axis", 1)), [v.name]);
    }
    case "Reshape":
      return reshapeOp(imp, node);
    case "Gemm":
      return gemm(imp, node);
    case "MatMul":
      return matmulOp(imp, node);
    case "Add":
    case "Sub":
    case "Mul":
    case "Div":
      return binary(imp, node);
    case "Dropout":
      return dropout(imp, node);
    case "Softmax":
      return softmaxOp(imp, node, false);
    case "LogSoftmax":
      return softmaxOp(imp, node, true);
    case "Identity":
      imp.vals.set(node.outputs[0], imp.val(node, node.inputs[0]));
      return;
    case "Constant":
      return constant(imp, node);
    case "Shape":
      return shapeOp(imp, node);
    case "Gather":
    case "Unsqueeze":
    case "Squeeze":
    case "Cast":
      return cpuShapeOps(imp, node);
    case "Concat": {
      const vs = node.inputs.map((n) => imp.val(node, n));
      if (vs.every((v) => v.kind === "tensor")) {
        return imp.addStep(
          node,
          new ConcatLayer(attrInt(node, "axis", 0)),
          vs.map((v) => (v as { name: string }).name),
        );
      }
      return cpuShapeOps(imp, node);
    }
    case "Transpose":
      return imp.addStep(node, new TransposeLayer(attrInts(node, "perm")), [imp.tensorIn(node, 0)]);
    case "Resize":
    case "Upsample":
      return resize(imp, node);
    default:
      imp.fail(node, "unsupported operator");
  }
}

// ---- names ------------------------------------------------------------------------------

const TORCH_NODE = /^\/(?:[^/]*\/)*([A-Za-z_][\w]*(?:\.[\w]+)*)\/[A-Za-z]+(?:_\d+)?$/;

function isFlatten(s: GraphStep): boolean {
  return s.module instanceof FlattenLayer || s.module instanceof ReshapeLayer;
}

function isPoolBeforeFlatten(s: GraphStep): boolean {
  return s.module instanceof AvgPool2d || s.module instanceof GlobalAvgPool2d ||
    s.module instanceof UpsampleLayer;
}

/** torchvision-style positional names: features.i | avgpool | flatten | classifier.j. */
function positional(steps: GraphStep[]): string[] {
  const f = steps.findIndex(isFlatten);
  const hasHead = f > 0 && steps.slice(f + 1).some((s) => s.module instanceof GemmLayer);
  if (!hasHead) return steps.map((_, k) => String(k));
  const pool = isPoolBeforeFlatten(steps[f - 1]) ? f - 1 : -1;
  return steps.map((_, k) =>
    k === pool
      ? "avgpool"
      : k === f
      ? "flatten"
      : k < f
      ? `features.${k}`
      : `classifier.${k - f - 1}`
  );
}

/** Assigns every step a unique dotted path (see the module comment). */
function assignPaths(imp: Importer): void {
  const steps = imp.steps;
  const fromNames = steps.map((s) => {
    const w = imp.weightNames.get(s);
    const m = w && /^(.+)\.(weight|bias)$/.exec(w);
    if (m && s.module.parameters().length) return m[1];
    if (s.module.parameters().length) return null;
    const t = TORCH_NODE.exec(s.node.name);
    return t ? t[1] : "";
  });
  const named = fromNames.every((p) => p !== null) &&
    fromNames.some((p) => p) &&
    new Set(fromNames.filter((p) => p)).size === fromNames.filter((p) => p).length;
  const paths = named ? fromNames as string[] : positional(steps);
  const used = new Set<string>();
  steps.forEach((s, k) => {
    let p = paths[k] || s.node.opType.toLowerCase();
    p = p.replace(/[^\w.]/g, "_");
    if (used.has(p) || [...used].some((u) => u.startsWith(p + ".") || p.startsWith(u + "."))) {
      let j = 1;
      while (used.has(`${p}_${j}`)) j++;
      p = `${p}_${j}`;
    }
    used.add(p);
    s.path = p;
  });
}

// ---- entry points -----------------------------------------------------------------------

/**
 * The checks that need no GPU: every operator supported, one graph input and one output.
 * Throws OnnxImportError naming the file and the first problem (a pipeline runs this before
 * any GPU work, so a bad model file is refused at once).
 */
export function checkImportable(model: OnnxModel, file = "<model>"): void {
  const imp = new Importer(model, file);
  const g = model.graph;
  for (const node of g.nodes) {
    if (!SUPPORTED_OPS.includes(node.opType) || (node.domain && node.domain !== "ai.onnx")) {
      imp.fail(node, "unsupported operator");
    }
  }
  if (g.inputs.length !== 1) {
    throw new OnnxImportError(
      `${file}: expected one graph input, found ${g.inputs.length} (${
        g.inputs.map((v) => v.name).join(", ")
      })`,
    );
  }
  if (g.outputs.length !== 1) {
    throw new OnnxImportError(`${file}: expected one graph output, found ${g.outputs.length}`);
  }
}

/**
 * Builds an `OnnxNet` from a read model. Throws `OnnxImportError` (one line: file,
 * problem, operator, node, opset) for anything it cannot run, before uploading weights
 * of later nodes. Needs `initGpu()` first.
 *
 * @example
 * const net = importOnnx(readOnnxFileSync("vgg16.onnx"), { file: "vgg16.onnx" });
 */
export function importOnnx(model: OnnxModel, opts: ImportOptions = {}): OnnxNet {
  const file = opts.file ?? "<model>";
  checkImportable(model, file);
  const imp = new Importer(model, file);
  const g = model.graph;
  for (const [name, t] of g.initializers) {
    try {
      imp.vals.set(name, { kind: "const", v: cpuOf(t), init: name });
    } catch (e) {
      throw new OnnxImportError(`${file}: initializer '${name}': ${(e as Error).message}`);
    }
  }
  const input = g.inputs[0];
  imp.vals.set(input.name, { kind: "tensor", name: input.name });
  const built: Module[] = [];
  try {
    for (const node of g.nodes) {
      const before = imp.steps.length;
      build(imp, node);
      for (const s of imp.steps.slice(before)) built.push(s.module);
    }
  } catch (e) {
    for (const m of built) m.dispose();
    throw e;
  }
  const outVal = imp.vals.get(g.outputs[0].name);
  if (!outVal || outVal.kind !== "tensor") {
    for (const m of built) m.dispose();
    throw new OnnxImportError(
      `${file}: graph output '${g.outputs[0].name}' is not computed from the input`,
    );
  }
  // An output renamed by Identity: the last step's value carries the graph output's name.
  const outputName = outVal.name;
  assignPaths(imp);
  const inputShape = input.type?.kind === "tensor" ? input.type.shape ?? [] : [];
  return new OnnxNet({
    steps: imp.steps,
    inputName: input.name,
    inputShape,
    outputName,
    opset: imp.opset,
    source: opts.keepSource === false ? undefined : model,
    file,
  });
}

/**
 * Reads and imports an ONNX file (external data from its folder).
 *
 * @example
 * await initGpu();
 * const net = await importOnnxFile("fixtures/onnx/vgg/torchvision.onnx");
 */
export async function importOnnxFile(
  path: string,
  opts: Omit<ImportOptions, "file"> & Omit<ReadOptions, "name"> = {},
): Promise<OnnxNet> {
  const model = await readOnnxFile(path, opts);
  return importOnnx(model, { ...opts, file: path });
}

/** Whether a step is an identity in inference (Dropout, Identity). */
export function isPassThrough(m: Module): boolean {
  return m instanceof Dropout || m instanceof IdentityLayer;
}
