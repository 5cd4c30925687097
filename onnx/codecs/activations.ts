/**
 * The activation codec: ONNX `Relu`, `Sigmoid`, `Tanh` ⇄ the engine's activation layers
 * (`Atan` exports too), and `Softmax` / `LogSoftmax` ⇄ `SoftmaxLayer` (both opset rules:
 * before 13 the input is flattened to 2-D at the axis) or the engine's Softmax/LogSoftmax.
 *
 * @module
 */
import { Atan, LogSoftmax, ReLU, Sigmoid, Softmax, Tanh } from "../../core/nn/activation.ts";
import type { Module } from "../../core/nn/module.ts";
import { registerCodec } from "../codec.ts";
import { type ExportContext, int } from "../emit.ts";
import { SoftmaxLayer } from "../layers.ts";
import { attrInt } from "../read.ts";

const POINTWISE: [string, new () => Module][] = [
  ["Relu", ReLU],
  ["Sigmoid", Sigmoid],
  ["Tanh", Tanh],
  ["Atan", Atan],
];

/** Relu, Sigmoid, Tanh (and Atan on export) ⇄ ReLU, Sigmoid, Tanh, Atan. */
export const pointwiseCodec = registerCodec<Module>({
  name: "activations",
  opTypes: ["Relu", "Sigmoid", "Tanh"],
  import(node, imp) {
    const [, Cls] = POINTWISE.find(([op]) => op === node.opType)!;
    imp.addStep(node, new Cls(), [imp.tensorIn(node, 0)]);
  },
  matches: (m) => POINTWISE.some(([, Cls]) => m instanceof Cls),
  export: (m, ctx) => ctx.node(POINTWISE.find(([, Cls]) => m instanceof Cls)![0], [ctx.input]),
});

function exportSoftmaxLayer(m: SoftmaxLayer, ctx: ExportContext): string {
  const op = m.log ? "LogSoftmax" : "Softmax";
  const rank = ctx.x.shape.length;
  const ax = m.axis < 0 ? m.axis + rank : m.axis;
  if (!m.coerce2d || ax === rank - 1) return ctx.node(op, [ctx.input], { axis: int(ax) });
  const nm = ctx.name;
  const f = ctx.node("Flatten", [ctx.input], { axis: int(ax) }, `${nm}_flat`);
  const s = ctx.node(op, [f], { axis: int(1) }, `${nm}_2d`);
  const shape = ctx.node("Shape", [ctx.input], {}, `${nm}_shape`);
  return ctx.node("Reshape", [s, shape]);
}

/** Softmax, LogSoftmax ⇄ SoftmaxLayer, Softmax, LogSoftmax. */
export const softmaxCodec = registerCodec<Module>({
  name: "softmax",
  opTypes: ["Softmax", "LogSoftmax"],
  import(node, imp) {
    const x = imp.tensorIn(node, 0);
    const coerce = imp.opset < 13;
    const axis = attrInt(node, "axis", coerce ? 1 : -1);
    imp.addStep(node, new SoftmaxLayer(axis, coerce, node.opType === "LogSoftmax"), [x]);
  },
  matches: (m) => m instanceof SoftmaxLayer || m instanceof Softmax || m instanceof LogSoftmax,
  export(m, ctx) {
    if (m instanceof SoftmaxLayer) return exportSoftmaxLayer(m, ctx);
    const op = m instanceof Softmax ? "Softmax" : "LogSoftmax";
    return ctx.node(op, [ctx.input], { axis: int((m as Softmax).axis) });
  },
});
