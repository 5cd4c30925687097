/**
 * Constant folding for ONNX import: the operators evaluated on the CPU rather than built
 * as modules — Constant, Shape, and Gather/Unsqueeze/Squeeze/Concat/Cast on shapes and
 * constants. A result is folded at import when it depends on constants only, else kept as
 * a function of the runtime tensors' shapes (see `Importer.cpuOut`).
 *
 * @module
 */
import { cpuOf, type CpuValue, f32, FLOATISH, type Importer, ints } from "./import_context.ts";
import { attrFloat, attrInt, attrInts, attrTensor, type OnnxNode } from "./read.ts";

/** Shape: a constant for a constant input, else read from the tensor's runtime shape. */
export function shapeOp(imp: Importer, node: OnnxNode): void {
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

/** The axes of Unsqueeze/Squeeze: the attribute (old opsets) or input 1. */
function axesOf(node: OnnxNode, get: (k: number) => CpuValue): number[] {
  const a = attrInts(node, "axes");
  if (a) return a;
  if (node.inputs[1]) return ints(get(1));
  return [];
}

/** Gather, Unsqueeze, Squeeze, Concat and Cast on shapes and constants. */
export function cpuShapeOps(imp: Importer, node: OnnxNode): void {
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

/** Constant: a tensor, float(s) or int(s) value. */
export function constant(imp: Importer, node: OnnxNode): void {
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
