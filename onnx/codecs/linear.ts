/**
 * The fully connected codec: ONNX `Gemm` and `MatMul` ⇄ `Linear` / `GemmLayer` (a
 * constant weight, stored as PyTorch's [out, in]) or `MatMulLayer` (a product of two
 * runtime tensors). Gemm's transB = 0 weights are transposed and alpha, beta folded in at
 * import. Export writes Gemm with transB = 1 for 2-D inputs, else MatMul by the transposed
 * weight (+ Add). Fusion: a GemmLayer followed by ReLU runs with the activation in the
 * matmul epilogue (Linear's rule is the engine's own, in core/nn/sequential.ts).
 *
 * @module
 */
import { ReLU } from "../../core/nn/activation.ts";
import { Linear } from "../../core/nn/linear.ts";
import type { Module } from "../../core/nn/module.ts";
import { registerCodec } from "../codec.ts";
import type { Attr, ExportContext } from "../emit.ts";
import { int, ints } from "../emit.ts";
import { f32, type Importer } from "../import_context.ts";
import { GemmLayer, MatMulLayer } from "../layers.ts";
import { attrFloat, attrInt, type OnnxNode, tensorSize } from "../read.ts";

function transpose2(a: Float32Array, rows: number, cols: number): Float32Array {
  const t = new Float32Array(a.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) t[c * rows + r] = a[r * cols + c];
  return t;
}

/** Gemm → GemmLayer (B constant) or MatMulLayer (a plain product of two tensors). */
function gemm(node: OnnxNode, imp: Importer): void {
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
  imp.addStep(node, new GemmLayer(weight, out, inn, bias, c, transA), [x], node.inputs[1]);
}

/** MatMul → GemmLayer (x·W, W a 2-D constant) or MatMulLayer (two runtime tensors). */
function matmul(node: OnnxNode, imp: Importer): void {
  const bVal = imp.val(node, node.inputs[1]);
  const aVal = imp.val(node, node.inputs[0]);
  if (aVal.kind === "tensor" && bVal.kind === "const" && bVal.v.dims.length === 2) {
    const [k, n] = bVal.v.dims;
    const m = new GemmLayer(transpose2(f32(bVal.v), k, n), n, k, null);
    imp.addStep(node, m, [aVal.name], node.inputs[1]);
  } else if (aVal.kind === "tensor" && bVal.kind === "tensor") {
    imp.addStep(node, new MatMulLayer(), [aVal.name, bVal.name]);
  } else {
    imp.fail(node, "only x·W (W a 2-D constant) or a product of two runtime tensors is supported");
  }
}

/** Linear / GemmLayer → Gemm (2-D input) or MatMul by the transposed weight. */
function exportDense(m: Linear | GemmLayer, ctx: ExportContext): string {
  const nm = ctx.name;
  const ins = [ctx.input, ctx.param("weight", m.weight)];
  if (m.bias) ins.push(ctx.param("bias", m.bias));
  const a: Attr = { transB: int(1) };
  if (m instanceof GemmLayer && m.transA) a.transA = int(1);
  if (ctx.x.shape.length !== 2) {
    // Gemm is 2-D only: x·Wᵀ (+ b) for [..., in] as MatMul by the transposed weight.
    const wt = ctx.node("Transpose", [ins[1]], { perm: ints([1, 0]) }, `${nm}_wT`);
    let y = ctx.node("MatMul", [ctx.input, wt]);
    if (m.bias) y = ctx.node("Add", [y, ins[2]], {}, `${nm}_add`);
    return y;
  }
  let y = ctx.node("Gemm", ins, a);
  if (m instanceof GemmLayer && m.c) {
    y = ctx.node("Add", [y, ctx.param("c", m.c)], {}, `${nm}_c`);
  }
  return y;
}

/** Gemm, MatMul ⇄ Linear, GemmLayer, MatMulLayer. */
export const linearCodec = registerCodec<Module>({
  name: "linear",
  opTypes: ["Gemm", "MatMul"],
  import: (node, imp) => (node.opType === "Gemm" ? gemm(node, imp) : matmul(node, imp)),
  matches: (m) => m instanceof Linear || m instanceof GemmLayer || m instanceof MatMulLayer,
  export: (m, ctx) =>
    m instanceof MatMulLayer
      ? ctx.node("MatMul", ctx.inputs)
      : exportDense(m as Linear | GemmLayer, ctx),
  fuse: (m, next, x) =>
    m instanceof GemmLayer && next instanceof ReLU ? m.forwardRelu(x, true) : null,
});
