/**
 * ONNX export: a trained module → a valid ONNX model (opset 13, IR 8, dynamic batch) that
 * ONNX Runtime runs. Handles an imported `OnnxNet` (chain or graph) with a new head, and
 * networks built in code: Sequential / Container of Conv2d, Linear, BatchNorm, ReLU,
 * Sigmoid, Tanh, Dropout, the pooling plugins (max, average, global, adaptive), Flatten,
 * Softmax / LogSoftmax, and the import's own layers.
 *
 * How: one forward pass at batch 1 on zeros (eval mode, no gradients) walks the modules
 * and records each leaf's input shape, which fixes the sizes that depend on it (explicit
 * pads, adaptive-pool windows); then parameters are read back and written under their
 * PyTorch-style names (`features.0.weight`), so the file's initializers are the state dict.
 *
 * AdaptiveAvgPool2d becomes AveragePool (input a multiple of the output), Resize nearest
 * (output a multiple of the input) or, otherwise (4×4 → 7×7), an exact MatMul by the
 * pooling matrix between two Reshapes.
 *
 * @module
 */
import { noGrad } from "../core/autograd.ts";
import { Atan, Flatten, LogSoftmax, ReLU, Sigmoid, Softmax, Tanh } from "../core/nn/activation.ts";
import { BatchNorm } from "../core/nn/batchnorm.ts";
import { Conv2d } from "../core/nn/conv.ts";
import { Dropout } from "../core/nn/dropout.ts";
import { Linear } from "../core/nn/linear.ts";
import type { Module } from "../core/nn/module.ts";
import { Sequential } from "../core/nn/sequential.ts";
import { convGeometry } from "../core/ops/conv_ref.ts";
import { fromArray, type Tensor, tidy } from "../core/tensor.ts";
import { AdaptiveAvgPool2d } from "../plugins/pooling/adaptive.ts";
import { AvgPool2d } from "../plugins/pooling/average.ts";
import { GlobalAvgPool2d, GlobalMaxPool2d } from "../plugins/pooling/global.ts";
import { MaxPool2d } from "../plugins/pooling/max.ts";
import { geometry, type WindowOptions } from "../plugins/pooling/window.ts";
import { Container, OnnxNet } from "./graph_module.ts";
import {
  BinaryLayer,
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
import { type AttrValue, DataType, type OnnxDim, type OnnxModel, type OnnxNode } from "./read.ts";
import { emptyModel, floatValue, writeOnnx, writeOnnxFile } from "./write.ts";

/** Options of `toOnnxModel` / `exportOnnx`. */
export interface ExportOptions {
  /** Input shape [N, C, H, W, …]; the batch is written as the symbolic `batch`. */
  inputShape: readonly number[];
  /** Graph input name (default `input`). */
  inputName?: string;
  /** Graph output name (default `output`). */
  outputName?: string;
  /** Class names, stored in the model's metadata as JSON under `classes`. */
  classes?: string[];
  /** More metadata entries. */
  metadata?: Record<string, string>;
}

const OPSET = 13;

type Attr = Record<string, AttrValue>;
const ints = (v: readonly number[]): AttrValue => ({ type: "INTS", value: [...v] });
const int = (v: number): AttrValue => ({ type: "INT", value: v });
const float = (v: number): AttrValue => ({ type: "FLOAT", value: v });
const str = (v: string): AttrValue => ({ type: "STRING", value: v });

/** Collects nodes and initializers while the forward pass walks the modules. */
class Emitter {
  readonly nodes: OnnxNode[] = [];
  /** Initializers whose data is read from GPU tensors at the end. */
  readonly fromTensors = new Map<string, Tensor>();
  /** Initializers known on the CPU. */
  readonly cpu = new Map<string, { dims: number[]; data: Float32Array | BigInt64Array }>();
  #n = 0;

  node(op: string, inputs: string[], name: string, attributes: Attr = {}, output?: string): string {
    const out = output ?? `${name || op.toLowerCase()}_${this.#n++}`;
    this.nodes.push({
      name: name || out,
      opType: op,
      domain: "",
      inputs,
      outputs: [out],
      attributes,
    });
    return out;
  }

  param(name: string, t: Tensor): string {
    this.fromTensors.set(name, t);
    return name;
  }

  floats(name: string, dims: number[], data: Float32Array): string {
    this.cpu.set(name, { dims, data });
    return name;
  }

  int64s(name: string, data: readonly number[]): string {
    this.cpu.set(name, { dims: [data.length], data: BigInt64Array.from(data.map(BigInt)) });
    return name;
  }
}

function join(prefix: string, name: string): string {
  return prefix ? `${prefix}.${name}` : name;
}

function poolAttrs(opts: WindowOptions, x: Tensor): Attr {
  const g = geometry("export", x.shape, opts);
  const a: Attr = {
    kernel_shape: ints([g.kh, g.kw]),
    strides: ints([g.sh, g.sw]),
    pads: ints([g.pt, g.pl, g.pb, g.pr]),
  };
  if (opts.ceilMode) a.ceil_mode = int(1);
  return a;
}

/** The [H·W, OH·OW] matrix of adaptive average pooling (PyTorch's windows). */
function adaptiveMatrix(H: number, W: number, OH: number, OW: number): Float32Array {
  const m = new Float32Array(H * W * OH * OW);
  for (let oh = 0; oh < OH; oh++) {
    const h0 = Math.floor((oh * H) / OH), h1 = Math.ceil(((oh + 1) * H) / OH);
    for (let ow = 0; ow < OW; ow++) {
      const w0 = Math.floor((ow * W) / OW), w1 = Math.ceil(((ow + 1) * W) / OW);
      const inv = 1 / ((h1 - h0) * (w1 - w0));
      for (let h = h0; h < h1; h++) {
        for (let w = w0; w < w1; w++) m[(h * W + w) * OH * OW + oh * OW + ow] = inv;
      }
    }
  }
  return m;
}

/** Emits one leaf module for input value `inp` (tensor `x`); returns the output name. */
function leaf(e: Emitter, m: Module, prefix: string, inp: string, x: Tensor): string {
  const nm = prefix || m.constructor.name.toLowerCase();
  if (m instanceof Conv2d) {
    const o = m.options;
    const g = convGeometry(x.shape, m.weight.shape, o);
    const a: Attr = {
      kernel_shape: ints([g.KH, g.KW]),
      strides: ints([g.SH, g.SW]),
      dilations: ints([g.DH, g.DW]),
      group: int(g.G),
    };
    if (o.padding === "same") a.auto_pad = str("SAME_UPPER");
    else if (o.padding === "same_lower") a.auto_pad = str("SAME_LOWER");
    else a.pads = ints([g.PT, g.PL, g.PB, g.PR]);
    const tied = m.bias && m.bias.shape.length === 1;
    const ins = [inp, e.param(join(prefix, "weight"), m.weight)];
    if (tied) ins.push(e.param(join(prefix, "bias"), m.bias!));
    let y = e.node("Conv", ins, nm, a);
    if (m.bias && !tied) {
      y = e.node("Add", [y, e.param(join(prefix, "bias"), m.bias)], `${nm}_bias`);
    }
    if (o.relu) y = e.node("Relu", [y], `${nm}_relu`);
    return y;
  }
  if (m instanceof Linear || m instanceof GemmLayer) {
    const ins = [inp, e.param(join(prefix, "weight"), m.weight)];
    if (m.bias) ins.push(e.param(join(prefix, "bias"), m.bias));
    const a: Attr = { transB: int(1) };
    if (m instanceof GemmLayer && m.transA) a.transA = int(1);
    if (x.shape.length !== 2) {
      // Gemm is 2-D only: x·Wᵀ (+ b) for [..., in] as MatMul by the transposed weight.
      const wt = e.node("Transpose", [ins[1]], `${nm}_wT`, { perm: ints([1, 0]) });
      let y = e.node("MatMul", [inp, wt], nm);
      if (m.bias) y = e.node("Add", [y, ins[2]], `${nm}_add`);
      return y;
    }
    let y = e.node("Gemm", ins, nm, a);
    if (m instanceof GemmLayer && m.c) {
      y = e.node("Add", [y, e.param(join(prefix, "c"), m.c)], `${nm}_c`);
    }
    return y;
  }
  if (m instanceof BatchNorm) {
    if (!m.weight || !m.bias || !m.runningMean || !m.runningVar) {
      throw new Error(`export: ${nm}: BatchNorm without affine weights or running statistics`);
    }
    const ins = [
      inp,
      e.param(join(prefix, "weight"), m.weight),
      e.param(join(prefix, "bias"), m.bias),
      e.param(join(prefix, "running_mean"), m.runningMean),
      e.param(join(prefix, "running_var"), m.runningVar),
    ];
    return e.node("BatchNormalization", ins, nm, {
      epsilon: float(m.eps),
      momentum: float(1 - (m.momentum ?? 0.1)),
    });
  }
  if (m instanceof ReLU) return e.node("Relu", [inp], nm);
  if (m instanceof Sigmoid) return e.node("Sigmoid", [inp], nm);
  if (m instanceof Tanh) return e.node("Tanh", [inp], nm);
  if (m instanceof Atan) return e.node("Atan", [inp], nm);
  if (m instanceof Dropout || m instanceof IdentityLayer) return e.node("Identity", [inp], nm);
  if (m instanceof MaxPool2d) {
    const a = poolAttrs(m.options, x);
    const d = m.options.dilation ?? 1;
    const [dh, dw] = typeof d === "number" ? [d, d] : d;
    if (dh !== 1 || dw !== 1) a.dilations = ints([dh, dw]);
    return e.node("MaxPool", [inp], nm, a);
  }
  if (m instanceof AvgPool2d) {
    const a = poolAttrs(m.options, x);
    a.count_include_pad = int(m.options.countIncludePad ?? true ? 1 : 0);
    return e.node("AveragePool", [inp], nm, a);
  }
  if (m instanceof GlobalAvgPool2d) return e.node("GlobalAveragePool", [inp], nm);
  if (m instanceof GlobalMaxPool2d) return e.node("GlobalMaxPool", [inp], nm);
  if (m instanceof AdaptiveAvgPool2d) {
    const [, , H, W] = x.shape;
    const [OH, OW] = m.output;
    if (OH === 1 && OW === 1) return e.node("GlobalAveragePool", [inp], nm);
    if (H % OH === 0 && W % OW === 0) {
      const k = [H / OH, W / OW];
      return e.node("AveragePool", [inp], nm, { kernel_shape: ints(k), strides: ints(k) });
    }
    if (OH % H === 0 && OW % W === 0) {
      const scales = e.floats(`${nm}.scales`, [4], Float32Array.from([1, 1, OH / H, OW / W]));
      return e.node("Resize", [inp, "", scales], nm, {
        mode: str("nearest"),
        coordinate_transformation_mode: str("asymmetric"),
        nearest_mode: str("floor"),
      });
    }
    const flat = e.node("Reshape", [inp, e.int64s(`${nm}.flat_shape`, [0, 0, -1])], `${nm}_flat`);
    const p = e.floats(`${nm}.pool_matrix`, [H * W, OH * OW], adaptiveMatrix(H, W, OH, OW));
    const y = e.node("MatMul", [flat, p], `${nm}_matmul`);
    return e.node("Reshape", [y, e.int64s(`${nm}.out_shape`, [0, 0, OH, OW])], nm);
  }
  if (m instanceof Flatten) return e.node("Flatten", [inp], nm, { axis: int(1) });
  if (m instanceof FlattenLayer) return e.node("Flatten", [inp], nm, { axis: int(m.axis) });
  if (m instanceof ReshapeLayer) {
    const t = m.target(x);
    const shape = t.map((d, k) => (k === 0 && (d === x.shape[0] || d === 0) ? 0 : d));
    return e.node("Reshape", [inp, e.int64s(`${nm}.shape`, shape)], nm);
  }
  if (m instanceof Softmax || m instanceof LogSoftmax) {
    return e.node(m instanceof Softmax ? "Softmax" : "LogSoftmax", [inp], nm, {
      axis: int(m.axis),
    });
  }
  if (m instanceof SoftmaxLayer) {
    const op = m.log ? "LogSoftmax" : "Softmax";
    const ax = m.axis < 0 ? m.axis + x.shape.length : m.axis;
    if (!m.coerce2d || ax === x.shape.length - 1) return e.node(op, [inp], nm, { axis: int(ax) });
    const f = e.node("Flatten", [inp], `${nm}_flat`, { axis: int(ax) });
    const s = e.node(op, [f], `${nm}_2d`, { axis: int(1) });
    const shape = e.node("Shape", [inp], `${nm}_shape`);
    return e.node("Reshape", [s, shape], nm);
  }
  if (m instanceof ConstBinaryLayer) {
    const c = e.param(join(prefix, "constant"), m.constant);
    return e.node(m.op, m.constFirst ? [c, inp] : [inp, c], nm);
  }
  if (m instanceof TransposeLayer) {
    return e.node("Transpose", [inp], nm, m.perm ? { perm: ints(m.perm) } : {});
  }
  if (m instanceof UpsampleLayer) {
    const scales = e.floats(`${nm}.scales`, [4], Float32Array.from([1, 1, m.scaleH, m.scaleW]));
    return e.node("Resize", [inp, "", scales], nm, {
      mode: str("nearest"),
      coordinate_transformation_mode: str("asymmetric"),
      nearest_mode: str("floor"),
    });
  }
  throw new Error(`export: ${nm}: no ONNX form for ${m.constructor.name}`);
}

/** Walks `m` on value `inp` (tensor `x`); returns the output name and tensor. */
function walk(e: Emitter, m: Module, prefix: string, inp: string, x: Tensor): [string, Tensor] {
  if (m instanceof OnnxNet) {
    if (m.chain) return chain(e, m.steps.map((s) => [s.path, s.module] as const), prefix, inp, x);
    const names = new Map<string, string>([[m.inputName, inp]]);
    const vals = new Map<string, Tensor>([[m.inputName, x]]);
    for (const s of m.steps) {
      const xs = s.inputs.map((n) => vals.get(n)!);
      const ins = s.inputs.map((n) => names.get(n)!);
      const path = join(prefix, s.path);
      let out: string, y: Tensor;
      if (
        s.module instanceof BinaryLayer || s.module instanceof MatMulLayer ||
        s.module instanceof ConcatLayer
      ) {
        y = s.module.forwardMany(xs);
        const op = s.module instanceof BinaryLayer
          ? s.module.op
          : s.module instanceof MatMulLayer
          ? "MatMul"
          : "Concat";
        const a: Attr = s.module instanceof ConcatLayer ? { axis: int(s.module.axis) } : {};
        out = e.node(op, ins, path, a);
      } else [out, y] = walk(e, s.module, path, ins[0], xs[0]);
      names.set(s.output, out);
      vals.set(s.output, y);
    }
    return [names.get(m.outputName)!, vals.get(m.outputName)!];
  }
  if (m instanceof Container) {
    return chain(e, m.layers.map((l, k) => [m.names[k], l] as const), prefix, inp, x);
  }
  if (m instanceof Sequential) {
    return chain(e, m.layers.map((l, k) => [String(k), l] as const), prefix, inp, x);
  }
  const custom = (m as { exportLayers?: () => (readonly [string, Module])[] }).exportLayers;
  if (custom) return chain(e, custom.call(m), prefix, inp, x);
  return [leaf(e, m, prefix, inp, x), m.forward(x)];
}

function chain(
  e: Emitter,
  layers: readonly (readonly [string, Module])[],
  prefix: string,
  inp: string,
  x: Tensor,
): [string, Tensor] {
  let name = inp, y = x;
  for (const [n, l] of layers) [name, y] = walk(e, l, join(prefix, n), name, y);
  return [name, y];
}

function modulesOf(m: Module): Module[] {
  return [m, ...m.children().flatMap(([, c]) => modulesOf(c))];
}

/**
 * Builds the ONNX model of `module` (weights read back from the GPU). The module is run
 * once at batch 1 in eval mode; its train/eval flags are restored afterwards.
 *
 * @example
 * const model = await toOnnxModel(net, { inputShape: [1, 3, 150, 150], classes });
 * await Deno.writeFile("model.onnx", writeOnnx(model));
 */
export async function toOnnxModel(module: Module, opts: ExportOptions): Promise<OnnxModel> {
  const e = new Emitter();
  const inputName = opts.inputName ?? "input";
  const outputName = opts.outputName ?? "output";
  const flags = modulesOf(module).map((m) => [m, m.training] as const);
  module.eval();
  let outShape: number[];
  try {
    outShape = noGrad(() =>
      tidy(() => {
        const shape = [1, ...opts.inputShape.slice(1)];
        const x = fromArray(new Float32Array(shape.reduce((p, d) => p * d, 1)), shape);
        const [out, y] = walk(e, module, "", inputName, x);
        e.node("Identity", [out], "output", {}, outputName);
        return [...y.shape];
      })
    );
  } finally {
    for (const [m, t] of flags) m.training = t;
  }
  const model = emptyModel(OPSET);
  const g = model.graph;
  g.nodes = e.nodes;
  for (const [name, t] of e.fromTensors) {
    g.initializers.set(name, {
      name,
      dims: [...t.shape],
      dataType: DataType.FLOAT,
      data: await t.data(),
    });
  }
  for (const [name, c] of e.cpu) {
    const dataType = c.data instanceof Float32Array ? DataType.FLOAT : DataType.INT64;
    g.initializers.set(name, { name, dims: c.dims, dataType, data: c.data });
  }
  const dims: OnnxDim[] = ["batch", ...opts.inputShape.slice(1)];
  g.inputs = [floatValue(inputName, dims)];
  g.declaredInputs = g.inputs;
  g.outputs = [floatValue(outputName, ["batch", ...outShape.slice(1)])];
  if (opts.classes) model.metadata.classes = JSON.stringify(opts.classes);
  Object.assign(model.metadata, opts.metadata ?? {});
  return model;
}

/**
 * Exports `module` as an ONNX file at `path` (written atomically); returns the model.
 *
 * @example
 * await exportOnnx(model, "runs/intel/model.onnx", { inputShape: [1, 3, 150, 150], classes });
 */
export async function exportOnnx(
  module: Module,
  path: string,
  opts: ExportOptions,
): Promise<OnnxModel> {
  const model = await toOnnxModel(module, opts);
  await writeOnnxFile(model, path);
  return model;
}

/** Exports `module` to ONNX bytes in memory. */
export async function exportOnnxBytes(module: Module, opts: ExportOptions): Promise<Uint8Array> {
  return writeOnnx(await toOnnxModel(module, opts));
}
