/**
 * Constant folding for ONNX import: the operators evaluated on the CPU rather than built
 * as modules — Constant, Shape, and Gather/Unsqueeze/Squeeze/Concat/Cast/Slice on shapes
 * and constants. A result is folded at import when it depends on constants only, else kept
 * as a function of the runtime tensors' shapes (see `Importer.cpuOut`). They are registered
 * as one import-only codec ("fold"); Concat of runtime tensors is the shape codec's.
 *
 * @module
 */
import { registerCodec } from "./codec.ts";
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

const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v));

/**
 * ONNX Slice of a CPU value: per listed axis, elements start, start + step, … before end
 * (negative indices count from the end; out-of-range ones are clamped as ONNX says).
 */
export function sliceValue(
  v: CpuValue,
  starts: number[],
  ends: number[],
  axes?: number[],
  steps?: number[],
): CpuValue {
  const r = v.dims.length;
  const first = new Array(r).fill(0), step = new Array(r).fill(1), len = [...v.dims];
  (axes ?? starts.map((_, k) => k)).forEach((a0, k) => {
    const a = a0 < 0 ? a0 + r : a0, d = v.dims[a], st = steps?.[k] ?? 1;
    if (a < 0 || a >= r || st === 0) throw new Error(`bad Slice axis ${a0} or step ${st}`);
    let s = starts[k] < 0 ? starts[k] + d : starts[k];
    let e = ends[k] < 0 ? ends[k] + d : ends[k];
    [s, e] = st > 0 ? [clamp(s, 0, d), clamp(e, 0, d)] : [clamp(s, 0, d - 1), clamp(e, -1, d - 1)];
    len[a] = Math.max(0, Math.ceil((e - s) / st));
    first[a] = s;
    step[a] = st;
  });
  const stride = v.dims.map((_, a) => v.dims.slice(a + 1).reduce((p, d) => p * d, 1));
  const n = len.reduce((p, d) => p * d, 1);
  const out: number[] = [];
  for (let k = 0; k < n; k++) {
    let src = 0;
    for (let a = r - 1, q = k; a >= 0; a--) {
      src += (first[a] + (q % len[a]) * step[a]) * stride[a];
      q = Math.floor(q / len[a]);
    }
    out.push(v.data[src]);
  }
  return {
    dims: len,
    data: v.data instanceof Float32Array ? Float32Array.from(out) : out,
    float: v.float,
  };
}

/** Slice: opset 10+ reads starts, ends, axes, steps from inputs, older opsets from attributes. */
function slice(imp: Importer, node: OnnxNode): void {
  imp.cpuOut(node, (get) => {
    const opt = (k: number) => (node.inputs[k] ? ints(get(k)) : undefined);
    const [starts, ends, axes, steps] = imp.opset < 10
      ? [attrInts(node, "starts") ?? [], attrInts(node, "ends") ?? [], attrInts(node, "axes")]
      : [ints(get(1)), ints(get(2)), opt(3), opt(4)];
    try {
      return sliceValue(get(0), starts, ends, axes, steps);
    } catch (e) {
      imp.fail(node, (e as Error).message);
    }
  });
}

/** Gather, Unsqueeze, Squeeze, Concat, Cast and Slice on shapes and constants. */
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
    case "Slice":
      return slice(imp, node);
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

/** The folded operators as one import-only codec. */
export const foldCodec = registerCodec({
  name: "fold",
  opTypes: ["Constant", "Shape", "Gather", "Unsqueeze", "Squeeze", "Cast", "Slice"],
  import(node, imp) {
    if (node.opType === "Constant") return constant(imp, node);
    if (node.opType === "Shape") return shapeOp(imp, node);
    cpuShapeOps(imp, node);
  },
});
