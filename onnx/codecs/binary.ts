/**
 * The elementwise codec: ONNX `Add`, `Sub`, `Mul`, `Div` ⇄ `BinaryLayer` (two runtime
 * tensors), `ConstBinaryLayer` (one constant operand, kept as the buffer `constant`), or a
 * CPU value when both operands are known (shape arithmetic).
 *
 * @module
 */
import type { Module } from "../../core/nn/module.ts";
import { registerCodec } from "../codec.ts";
import { f32, type Importer } from "../import_context.ts";
import { BinaryLayer, type BinaryOp, ConstBinaryLayer } from "../layers.ts";
import type { OnnxNode } from "../read.ts";

const CPU: Record<BinaryOp, (p: number, q: number) => number> = {
  Add: (p, q) => p + q,
  Sub: (p, q) => p - q,
  Mul: (p, q) => p * q,
  Div: (p, q) => p / q,
};

function binary(node: OnnxNode, imp: Importer): void {
  const op = node.opType as BinaryOp;
  const [a, b] = [0, 1].map((k) => imp.val(node, node.inputs[k]));
  if (a.kind === "tensor" && b.kind === "tensor") {
    imp.addStep(node, new BinaryLayer(op), [a.name, b.name]);
  } else if (a.kind === "tensor" && b.kind === "const") {
    const c = { data: f32(b.v), dims: b.v.dims };
    imp.addStep(node, new ConstBinaryLayer(op, c, false), [a.name]);
  } else if (a.kind === "const" && b.kind === "tensor") {
    imp.addStep(node, new ConstBinaryLayer(op, { data: f32(a.v), dims: a.v.dims }, true), [b.name]);
  } else {
    imp.cpuOut(node, (get) => {
      const x = get(0), y = get(1);
      const n = Math.max(x.data.length, y.data.length);
      const data = Array.from(
        { length: n },
        (_, i) => CPU[op](x.data[x.data.length === 1 ? 0 : i], y.data[y.data.length === 1 ? 0 : i]),
      );
      return { dims: x.data.length >= y.data.length ? x.dims : y.dims, data, float: x.float };
    });
  }
}

/** Add, Sub, Mul, Div ⇄ BinaryLayer, ConstBinaryLayer. */
export const binaryCodec = registerCodec<Module>({
  name: "binary",
  opTypes: ["Add", "Sub", "Mul", "Div"],
  import: binary,
  matches: (m) => m instanceof BinaryLayer || m instanceof ConstBinaryLayer,
  export(m, ctx) {
    if (m instanceof BinaryLayer) return ctx.node(m.op, ctx.inputs);
    const cm = m as ConstBinaryLayer;
    const c = ctx.param("constant", cm.constant);
    return ctx.node(cm.op, cm.constFirst ? [c, ctx.input] : [ctx.input, c]);
  },
});
