/**
 * The export side's building blocks: `Emitter` collects the nodes and initializers of the
 * model being written; `ExportContext` is what a codec's `export` gets for one module — its
 * input value names and tensors (batch 1, eval mode), its PyTorch-style path, and helpers
 * that add nodes and initializers under that path. Plus the attribute constructors.
 *
 * @module
 */
import type { Tensor } from "../core/tensor.ts";
import type { AttrValue, OnnxNode } from "./read.ts";

/** Node attributes by name. */
export type Attr = Record<string, AttrValue>;

/** An INTS attribute. */
export const ints = (v: readonly number[]): AttrValue => ({ type: "INTS", value: [...v] });
/** An INT attribute. */
export const int = (v: number): AttrValue => ({ type: "INT", value: v });
/** A FLOAT attribute. */
export const float = (v: number): AttrValue => ({ type: "FLOAT", value: v });
/** A STRING attribute. */
export const str = (v: string): AttrValue => ({ type: "STRING", value: v });

/** `prefix.name`, or `name` at the top. */
export function join(prefix: string, name: string): string {
  return prefix ? `${prefix}.${name}` : name;
}

/** Collects nodes and initializers while the forward pass walks the modules. */
export class Emitter {
  /** The nodes added so far, in graph order. */
  readonly nodes: OnnxNode[] = [];
  /** Initializers whose data is read from GPU tensors at the end. */
  readonly fromTensors = new Map<string, Tensor>();
  /** Initializers known on the CPU. */
  readonly cpu = new Map<string, { dims: number[]; data: Float32Array | BigInt64Array }>();
  #n = 0;

  /** Adds a node; returns its output's name (`output`, or one made from the name). */
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

  /** A float initializer read back from `t`. */
  param(name: string, t: Tensor): string {
    this.fromTensors.set(name, t);
    return name;
  }

  /** A float initializer from CPU data. */
  floats(name: string, dims: number[], data: Float32Array): string {
    this.cpu.set(name, { dims, data });
    return name;
  }

  /** A 1-D int64 initializer. */
  int64s(name: string, data: readonly number[]): string {
    this.cpu.set(name, { dims: [data.length], data: BigInt64Array.from(data.map(BigInt)) });
    return name;
  }
}

/**
 * One module being exported: `export(module, ctx)` adds its nodes with `ctx.node`, names
 * its parameters with `ctx.param("weight", t)` (→ `features.0.weight`) and returns the
 * name of the value that holds its output.
 */
export class ExportContext {
  /**
   * The context of one module's export step.
   *
   * @param emitter where nodes go
   * @param prefix the module's dotted path (may be empty)
   * @param inputs the ONNX names of its inputs
   * @param xs its input tensors at batch 1 (shapes fix sizes such as explicit pads)
   * @param moduleName the node name when `prefix` is empty (the lowercased class name)
   */
  constructor(
    readonly emitter: Emitter,
    readonly prefix: string,
    readonly inputs: string[],
    readonly xs: Tensor[],
    moduleName: string,
  ) {
    this.name = prefix || moduleName;
  }

  /** The node name: the path, or the class name at the top. */
  readonly name: string;

  /** The first input's ONNX name. */
  get input(): string {
    return this.inputs[0];
  }

  /** The first input tensor. */
  get x(): Tensor {
    return this.xs[0];
  }

  /** Adds a node named `name` (default: the module's); returns its output's name. */
  node(op: string, inputs: string[], attributes: Attr = {}, name = this.name): string {
    return this.emitter.node(op, inputs, name, attributes);
  }

  /** The initializer `prefix.local` read back from `t` (a parameter or buffer). */
  param(local: string, t: Tensor): string {
    return this.emitter.param(join(this.prefix, local), t);
  }

  /** A float initializer `name.suffix` known on the CPU. */
  floats(suffix: string, dims: number[], data: Float32Array): string {
    return this.emitter.floats(`${this.name}.${suffix}`, dims, data);
  }

  /** An int64 initializer `name.suffix`. */
  int64s(suffix: string, data: readonly number[]): string {
    return this.emitter.int64s(`${this.name}.${suffix}`, data);
  }
}
