/**
 * The pass-through codec: ONNX `Dropout` (the mask output unused) → `Dropout`, `Identity`
 * → a renamed value (no step); on export `Dropout` and `IdentityLayer` become Identity
 * (a model is written in eval mode).
 *
 * @module
 */
import { Dropout } from "../../core/nn/dropout.ts";
import type { Module } from "../../core/nn/module.ts";
import { registerCodec } from "../codec.ts";
import { f32, type Importer } from "../import_context.ts";
import { IdentityLayer } from "../layers.ts";
import { attrFloat, type OnnxNode } from "../read.ts";

function dropout(node: OnnxNode, imp: Importer): void {
  const x = imp.tensorIn(node, 0);
  let ratio = attrFloat(node, "ratio", 0.5);
  if (node.inputs[1]) ratio = f32(imp.constIn(node, 1, "ratio"))[0];
  if (node.outputs[1] && imp.model.graph.nodes.some((n) => n.inputs.includes(node.outputs[1]))) {
    imp.fail(node, "the mask output is not supported");
  }
  imp.addStep(node, new Dropout(ratio), [x]);
}

/** Dropout, Identity ⇄ Dropout, IdentityLayer. */
export const dropoutCodec = registerCodec<Module>({
  name: "dropout",
  opTypes: ["Dropout", "Identity"],
  import(node, imp) {
    if (node.opType === "Dropout") return dropout(node, imp);
    imp.vals.set(node.outputs[0], imp.val(node, node.inputs[0]));
  },
  matches: (m) => m instanceof Dropout || m instanceof IdentityLayer,
  export: (_m, ctx) => ctx.node("Identity", [ctx.input]),
});
