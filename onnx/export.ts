/**
 * ONNX export: a trained module → a valid ONNX model (opset 13, IR 8, dynamic batch) that
 * ONNX Runtime runs. Handles an imported `OnnxNet` (chain or graph) with a new head, and
 * networks built in code: Sequential / Container (or any module with `exportLayers()`) of
 * layers that have a codec (onnx/codec.ts): the engine's layers (onnx/codecs/), the
 * pooling plugins and the import's own layers — or a plugin's layer that registered one.
 *
 * How: one forward pass at batch 1 on zeros (eval mode, no gradients) walks the modules
 * and hands each leaf, with its input tensors, to its codec, which writes its nodes (the
 * input shape fixes sizes such as explicit pads and adaptive-pool windows); then parameters
 * are read back and written under their PyTorch-style names (`features.0.weight`), so the
 * file's initializers are the state dict.
 *
 * @module
 */
import { noGrad } from "../core/autograd.ts";
import type { Module } from "../core/nn/module.ts";
import { Sequential } from "../core/nn/sequential.ts";
import { fromArray, type Tensor, tidy } from "../core/tensor.ts";
import { codecForModule } from "./codec.ts";
import "./codecs/index.ts";
import { Emitter, ExportContext, join } from "./emit.ts";
import { Container, OnnxNet } from "./graph_module.ts";
import { MultiInputLayer } from "./layers.ts";
import { DataType, type OnnxDim, type OnnxModel } from "./read.ts";
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

/** Walks `m` on values `ins` (tensors `xs`); returns the output name and tensor. */
function walk(
  e: Emitter,
  m: Module,
  prefix: string,
  ins: string[],
  xs: Tensor[],
): [string, Tensor] {
  if (m instanceof OnnxNet) {
    if (m.chain) return chain(e, m.steps.map((s) => [s.path, s.module] as const), prefix, ins, xs);
    const names = new Map<string, string>([[m.inputName, ins[0]]]);
    const vals = new Map<string, Tensor>([[m.inputName, xs[0]]]);
    for (const s of m.steps) {
      const [out, y] = walk(
        e,
        s.module,
        join(prefix, s.path),
        s.inputs.map((n) => names.get(n)!),
        s.inputs.map((n) => vals.get(n)!),
      );
      names.set(s.output, out);
      vals.set(s.output, y);
    }
    return [names.get(m.outputName)!, vals.get(m.outputName)!];
  }
  if (m instanceof Container) {
    return chain(e, m.layers.map((l, k) => [m.names[k], l] as const), prefix, ins, xs);
  }
  if (m instanceof Sequential) {
    return chain(e, m.layers.map((l, k) => [String(k), l] as const), prefix, ins, xs);
  }
  const custom = (m as { exportLayers?: () => (readonly [string, Module])[] }).exportLayers;
  if (custom) return chain(e, custom.call(m), prefix, ins, xs);
  const codec = codecForModule(m);
  const nm = m.constructor.name;
  if (!codec) throw new Error(`export: ${prefix || nm.toLowerCase()}: no ONNX form for ${nm}`);
  const out = codec.export!(m, new ExportContext(e, prefix, ins, xs, nm.toLowerCase()));
  const y = m instanceof MultiInputLayer ? m.forwardMany(xs) : m.forward(xs[0]);
  return [out, y];
}

function chain(
  e: Emitter,
  layers: readonly (readonly [string, Module])[],
  prefix: string,
  ins: string[],
  xs: Tensor[],
): [string, Tensor] {
  let name = ins[0], y = xs[0];
  for (const [n, l] of layers) [name, y] = walk(e, l, join(prefix, n), [name], [y]);
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
        const [out, y] = walk(e, module, "", [inputName], [x]);
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
