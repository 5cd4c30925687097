/**
 * The import context shared by the ONNX operator builders: CPU-known values (`CpuValue`,
 * `cpuOf`, `f32`, `ints`), the value kinds of a graph being imported (`Val`: runtime tensor,
 * constant, or computed from runtime shapes) and `Importer`, which holds the values, the
 * built steps and the one-line error helper for one graph.
 *
 * @module
 */
import type { Module } from "../core/nn/module.ts";
import type { GraphStep } from "./graph_module.ts";
import { nodeError } from "./import_error.ts";
import {
  DataType,
  type OnnxModel,
  type OnnxNode,
  type OnnxTensor,
  opsetVersion,
  toFloat32,
} from "./read.ts";

/** A constant known on the CPU: dims and elements (float32 or plain numbers). */
export interface CpuValue {
  /** The dimensions. */
  dims: number[];
  /** The elements, row-major. */
  data: Float32Array | number[];
  /** Whether the ONNX type was a floating-point one. */
  float: boolean;
}

/** Shapes of runtime tensors by value name, as a forward pass knows them. */
export type Shapes = Map<string, readonly number[]>;

/** A value of the graph being imported: a runtime tensor, a constant, or computed from shapes. */
export type Val =
  | { kind: "tensor"; name: string }
  | { kind: "const"; v: CpuValue; init?: string }
  | { kind: "dyn"; f: (shapes: Shapes) => CpuValue; reads: string[] };

/** The floating-point ONNX data types. */
export const FLOATISH: number[] = [
  DataType.FLOAT,
  DataType.DOUBLE,
  DataType.FLOAT16,
  DataType.BFLOAT16,
];

/** A read tensor as a CPU value (floats as float32; throws on STRING tensors). */
export function cpuOf(t: OnnxTensor): CpuValue {
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

/** The elements as a Float32Array (the same array when already one). */
export function f32(v: CpuValue): Float32Array {
  return v.data instanceof Float32Array ? v.data : Float32Array.from(v.data);
}

/** The elements truncated to integers. */
export function ints(v: CpuValue): number[] {
  return Array.from(v.data, (x) => Math.trunc(x));
}

/** Import context: values, steps and the error helper for one graph. */
export class Importer {
  /** Values by name, as imported so far. */
  readonly vals = new Map<string, Val>();
  /** The built steps, in graph order. */
  readonly steps: GraphStep[] = [];
  /** The model's ai.onnx opset. */
  readonly opset: number;
  /** Name for messages (the file path). */
  readonly file: string;
  /** Original initializer name per module path candidate (first weight input). */
  readonly weightNames = new Map<GraphStep, string>();

  /** Starts an empty context for `model`; `file` names it in messages. */
  constructor(readonly model: OnnxModel, file: string) {
    this.opset = opsetVersion(model);
    this.file = file;
  }

  /** Throws the one-line OnnxImportError for `problem` at `node`. */
  fail(node: OnnxNode, problem: string): never {
    throw nodeError(this.model, this.file, this.opset, node, problem);
  }

  /** The value named `name` (an input of `node`); fails when it is not defined yet. */
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

  /** Input `k` of `node`, which must be a runtime tensor: its value name. */
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
