/**
 * The shape codec: ONNX `Flatten`, `Reshape`, `Transpose` and `Concat` of runtime tensors
 * ⇄ `FlattenLayer` (or the engine's `Flatten`), `ReshapeLayer` (the target constant or
 * computed from runtime shapes, so a Reshape written for batch 1 works for batch 8),
 * `TransposeLayer` and `ConcatLayer`. Reshape and Concat of constants and shapes fold on
 * the CPU instead (onnx/import_fold.ts).
 *
 * @module
 */
import { Flatten } from "../../core/nn/activation.ts";
import type { Module } from "../../core/nn/module.ts";
import type { Tensor } from "../../core/tensor.ts";
import { registerCodec } from "../codec.ts";
import { int, ints } from "../emit.ts";
import { type Importer, ints as intsOf } from "../import_context.ts";
import { cpuShapeOps } from "../import_fold.ts";
import { ConcatLayer, FlattenLayer, ReshapeLayer, TransposeLayer } from "../layers.ts";
import { attrInt, attrInts, type OnnxNode } from "../read.ts";

/** Reshape → ReshapeLayer (target constant or from shapes), or a CPU value of a constant. */
function reshape(node: OnnxNode, imp: Importer): void {
  const data = imp.val(node, node.inputs[0]);
  const shape = imp.val(node, node.inputs[1]);
  if (data.kind !== "tensor") {
    imp.cpuOut(node, (get) => {
      const v = get(0), s = intsOf(get(1));
      const dims = s.map((d, k) => (d === 0 ? v.dims[k] : d));
      const known = dims.filter((d) => d !== -1).reduce((p, d) => p * d, 1);
      return { ...v, dims: dims.map((d) => (d === -1 ? v.data.length / known : d)) };
    });
    return;
  }
  const allowzero = attrInt(node, "allowzero", 0) === 1;
  let target: (x: Tensor) => number[];
  if (shape.kind === "const") {
    const s = intsOf(shape.v);
    target = () => s;
  } else if (shape.kind === "dyn") {
    const unknown = shape.reads.filter((r) => r !== data.name);
    if (unknown.length) {
      imp.fail(node, `the target shape depends on the shape of '${unknown[0]}'`);
    }
    target = (x) => intsOf(shape.f(new Map([[data.name, x.shape]])));
  } else imp.fail(node, "the target shape must be computed from shapes or constants");
  imp.addStep(node, new ReshapeLayer(target, allowzero), [data.name]);
}

function importShapeOp(node: OnnxNode, imp: Importer): void {
  switch (node.opType) {
    case "Flatten": {
      const v = imp.val(node, node.inputs[0]);
      if (v.kind !== "tensor") imp.fail(node, "Flatten of a constant is not supported");
      return imp.addStep(node, new FlattenLayer(attrInt(node, "axis", 1)), [v.name]);
    }
    case "Reshape":
      return reshape(node, imp);
    case "Transpose":
      return imp.addStep(node, new TransposeLayer(attrInts(node, "perm")), [imp.tensorIn(node, 0)]);
    case "Concat": {
      const vs = node.inputs.map((n) => imp.val(node, n));
      if (!vs.every((v) => v.kind === "tensor")) return cpuShapeOps(imp, node);
      const names = vs.map((v) => (v as { name: string }).name);
      return imp.addStep(node, new ConcatLayer(attrInt(node, "axis", 0)), names);
    }
  }
}

const CLASSES = [Flatten, FlattenLayer, ReshapeLayer, TransposeLayer, ConcatLayer];

/** Flatten, Reshape, Transpose, Concat ⇄ FlattenLayer/Flatten, ReshapeLayer, … */
export const shapeCodec = registerCodec<Module>({
  name: "shape",
  opTypes: ["Flatten", "Reshape", "Transpose", "Concat"],
  import: importShapeOp,
  matches: (m) => CLASSES.some((Cls) => m instanceof Cls),
  export(m, ctx) {
    const x = ctx.x;
    if (m instanceof Flatten) return ctx.node("Flatten", [ctx.input], { axis: int(1) });
    if (m instanceof FlattenLayer) return ctx.node("Flatten", [ctx.input], { axis: int(m.axis) });
    if (m instanceof ReshapeLayer) {
      const t = m.target(x);
      const shape = t.map((d, k) => (k === 0 && (d === x.shape[0] || d === 0) ? 0 : d));
      return ctx.node("Reshape", [ctx.input, ctx.int64s("shape", shape)]);
    }
    if (m instanceof TransposeLayer) {
      return ctx.node("Transpose", [ctx.input], m.perm ? { perm: ints(m.perm) } : {});
    }
    return ctx.node("Concat", ctx.inputs, { axis: int((m as ConcatLayer).axis) });
  },
});
