/**
 * Modules that run an imported graph. `OnnxNet` holds one step per tensor-producing node
 * (a module plus the names of its runtime inputs and its output) and runs them in order:
 * as a chain when every step feeds the next (Sequential's `runChain`: no value table,
 * Conv/Gemm + ReLU fused by the same rules, each intermediate released as soon as the next
 * one exists), or through a table of named values otherwise. `Container` groups modules
 * under a dotted prefix (`features`, `classifier`) so parameter names match PyTorch's.
 *
 * @module
 */
import { Module } from "../core/nn/module.ts";
import { runChain } from "../core/nn/sequential.ts";
import type { Tensor } from "../core/tensor.ts";
import type { OnnxDim, OnnxModel, OnnxNode } from "./read.ts";
import { MultiInputLayer } from "./layers.ts";

/** The chain runner (fusion and early release) is the engine's: core/nn/sequential.ts. */
export { runChain };

/**
 * Named modules run in order (PyTorch's Sequential with names that may skip numbers, e.g.
 * `classifier.0, .1, .3` once Dropout left the export).
 *
 * @example
 * const head = new Container([["0", new Linear(8192, 256)], ["1", new ReLU()]]);
 */
export class Container extends Module {
  /** The modules in run order. */
  readonly layers: Module[] = [];
  /** Each module's name, parallel to `layers`. */
  readonly names: string[] = [];

  /** Adds `entries` ([name, module] pairs) in order. */
  constructor(entries: readonly (readonly [string, Module])[] = []) {
    super();
    for (const [n, m] of entries) this.add(n, m);
  }

  /** Appends `m` under `name`. */
  add(name: string, m: Module): this {
    this.child(name, m);
    this.layers.push(m);
    this.names.push(name);
    return this;
  }

  /** The child registered under `name`, if any. */
  get(name: string): Module | undefined {
    const k = this.names.indexOf(name);
    return k < 0 ? undefined : this.layers[k];
  }

  /** Runs the layers in order, fusing pairs a rule allows (see `runChain`). */
  forward(x: Tensor): Tensor {
    return runChain(this.layers, x);
  }
}

/** One step of an imported graph. */
export interface GraphStep {
  /** The ONNX node it came from. */
  node: OnnxNode;
  /** Dotted module path (`features.0`), unique in the net. */
  path: string;
  /** The module that computes it. */
  module: Module;
  /** Names of the runtime tensors it reads, in order. */
  inputs: string[];
  /** Name of the value it produces. */
  output: string;
}

/** What the importer hands to `OnnxNet`. */
export interface OnnxNetSpec {
  steps: GraphStep[];
  /** The graph input's name and declared shape (null or a name: dynamic). */
  inputName: string;
  inputShape: OnnxDim[];
  /** The graph output's name. */
  outputName: string;
  /** The default-domain opset of the file. */
  opset: number;
  /** The file's model (weights included) for cutting sub-models; may be dropped. */
  source?: OnnxModel;
  /** Where it came from, for messages. */
  file: string;
}

/**
 * An imported ONNX graph as a Module. Parameters carry PyTorch-style names
 * (`features.0.weight`, `classifier.6.bias`) so a torchvision state dict loads into it.
 * Starts in eval mode (dropout off, batch norm on running statistics).
 *
 * @example
 * const net = await importOnnxFile("vgg16.onnx");
 * const logits = noGrad(() => net.forward(x));
 */
export class OnnxNet extends Module {
  /** One step per tensor-producing node, in run order. */
  readonly steps: GraphStep[];
  /** Whether every step feeds the next (then `forward` is the Sequential fast path). */
  readonly chain: boolean;
  /** The graph input's name (what `forward`'s `x` stands for). */
  readonly inputName: string;
  /** The graph input's declared shape (a null or named dim is dynamic). */
  readonly inputShape: OnnxDim[];
  /** The graph output's name (the value `forward` returns). */
  readonly outputName: string;
  /** The file's default-domain opset version. */
  readonly opset: number;
  /** Where the model came from, for messages. */
  readonly file: string;
  /** The source model, when kept (for `cutModel`). */
  source?: OnnxModel;

  /** Registers each step's module under its dotted path, then switches to eval mode. */
  constructor(spec: OnnxNetSpec) {
    super();
    this.steps = spec.steps;
    this.inputName = spec.inputName;
    this.inputShape = spec.inputShape;
    this.outputName = spec.outputName;
    this.opset = spec.opset;
    this.file = spec.file;
    this.source = spec.source;
    this.chain =
      spec.steps.every((s, k) =>
        s.inputs.length === 1 && !(s.module instanceof MultiInputLayer && s.inputs.length > 1) &&
        s.inputs[0] === (k === 0 ? spec.inputName : spec.steps[k - 1].output)
      ) && spec.steps.length > 0 && spec.steps[spec.steps.length - 1].output === spec.outputName;
    // Register modules under their dotted paths, creating containers for the prefixes.
    const containers = new Map<string, Container>();
    for (const s of spec.steps) {
      const parts = s.path.split(".");
      let parent: Container | null = null;
      let prefix = "";
      for (const p of parts.slice(0, -1)) {
        prefix = prefix ? `${prefix}.${p}` : p;
        let c = containers.get(prefix);
        if (!c) {
          c = new Container();
          containers.set(prefix, c);
          if (parent) parent.add(p, c);
          else this.child(p, c);
        }
        parent = c;
      }
      const last = parts[parts.length - 1];
      if (parent) parent.add(last, s.module);
      else this.child(last, s.module);
    }
    this.eval();
  }

  /** The step whose module path is `path` (e.g. `features.30`). */
  step(path: string): GraphStep | undefined {
    return this.steps.find((s) => s.path === path);
  }

  /** The modules of steps [from, to) in order (a chain's slice, for transfer learning). */
  modules(from = 0, to = this.steps.length): Module[] {
    return this.steps.slice(from, to).map((s) => s.module);
  }

  /** Runs the steps on `x`: the chain fast path, or a table of named values freed after use. */
  forward(x: Tensor): Tensor {
    if (this.chain) return runChain(this.modules(), x);
    const env = new Map<string, Tensor>([[this.inputName, x]]);
    const lastUse = new Map<string, number>();
    this.steps.forEach((s, k) => s.inputs.forEach((i) => lastUse.set(i, k)));
    this.steps.forEach((s, k) => {
      const xs = s.inputs.map((n) => {
        const t = env.get(n);
        if (!t) throw new Error(`${this.file}: value '${n}' is used before it is computed`);
        return t;
      });
      const y = s.module instanceof MultiInputLayer
        ? s.module.forwardMany(xs)
        : s.module.forward(xs[0]);
      env.set(s.output, y);
      for (const n of new Set(s.inputs)) {
        if (lastUse.get(n) !== k || n === this.inputName || n === this.outputName) continue;
        const t = env.get(n)!;
        env.delete(n);
        if (t !== x && !t.kept && ![...env.values()].includes(t)) t.dispose();
      }
    });
    const out = env.get(this.outputName);
    if (!out) throw new Error(`${this.file}: output '${this.outputName}' was not computed`);
    return out;
  }
}
