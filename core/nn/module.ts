/**
 * Module: the base of every layer. It owns named parameters (leaves that require grad),
 * named buffers (state such as running statistics) and child modules, and gives them
 * PyTorch-style dotted names (`0.weight`, `features.3.bias`, …) so weights move between
 * this project, PyTorch and ONNX with `stateDict` / `loadStateDict`.
 */
import { gpu } from "../gpu.ts";
import { type Tensor } from "../tensor.ts";

/** One entry of a state dictionary: shape and float32 values. */
export interface StateEntry {
  /** The tensor's shape. */
  shape: number[];
  /** The values, row-major, as many as the shape holds. */
  data: Float32Array;
}

/** Name → entry, as PyTorch's `state_dict()` (parameters and buffers). */
export type StateDict = Record<string, StateEntry>;

/** A generator whose state a checkpoint saves and restores (Dropout masks, samplers …). */
export interface Stateful {
  /** The state as numbers (JSON-able). */
  rngState(): number[];
  /** Restores a state from `rngState()`. */
  setRngState(s: number[]): void;
}

/** The base class of layers and networks. */
export abstract class Module {
  /** Whether the module is in training mode (dropout active, batch statistics). */
  training = true;
  #params = new Map<string, Tensor>();
  #buffers = new Map<string, Tensor>();
  #children = new Map<string, Module>();
  #generators = new Map<string, Stateful>();

  /** Computes the output for `x`. */
  abstract forward(x: Tensor): Tensor;

  /** Registers a trainable parameter under `name` (kept alive, requires grad). */
  protected param(name: string, t: Tensor): Tensor {
    t.keep();
    t.requiresGrad = true;
    t.name = name;
    this.#params.set(name, t);
    return t;
  }

  /** Registers non-trainable state under `name` (saved in the state dict). */
  protected buffer(name: string, t: Tensor): Tensor {
    t.keep();
    t.name = name;
    this.#buffers.set(name, t);
    return t;
  }

  /**
   * Registers a random generator under `name`: checkpoints save and restore it as they do
   * parameters, so a module that draws random numbers needs nothing from the pipeline.
   */
  protected generator(name: string, g: Stateful): void {
    this.#generators.set(name, g);
  }

  /** Every registered generator with its dotted name (`3.mask`, `classifier.2.mask`). */
  namedGenerators(prefix = ""): [string, Stateful][] {
    const out: [string, Stateful][] = [...this.#generators].map(([n, g]) => [prefix + n, g]);
    for (const [n, c] of this.#children) out.push(...c.namedGenerators(`${prefix}${n}.`));
    return out;
  }

  /** Registers a child module under `name`. */
  protected child<M extends Module>(name: string, m: M): M {
    this.#children.set(name, m);
    return m;
  }

  /** Direct children, by name. */
  children(): [string, Module][] {
    return [...this.#children];
  }

  /** Every parameter with its dotted name. */
  namedParameters(prefix = ""): [string, Tensor][] {
    const out: [string, Tensor][] = [...this.#params].map(([n, t]) => [prefix + n, t]);
    for (const [n, c] of this.#children) out.push(...c.namedParameters(`${prefix}${n}.`));
    return out;
  }

  /** Every parameter. */
  parameters(): Tensor[] {
    return this.namedParameters().map(([, t]) => t);
  }

  /** Every buffer with its dotted name. */
  namedBuffers(prefix = ""): [string, Tensor][] {
    const out: [string, Tensor][] = [...this.#buffers].map(([n, t]) => [prefix + n, t]);
    for (const [n, c] of this.#children) out.push(...c.namedBuffers(`${prefix}${n}.`));
    return out;
  }

  /** Sets training mode on this module and every descendant. */
  train(on = true): this {
    this.training = on;
    for (const [, c] of this.#children) c.train(on);
    return this;
  }

  /** Sets evaluation mode (same as `train(false)`). */
  eval(): this {
    return this.train(false);
  }

  /** Clears every parameter's gradient. */
  zeroGrad(): void {
    for (const p of this.parameters()) {
      p.grad?.dispose();
      p.grad = null;
    }
  }

  /** Reads parameters and buffers back to the CPU under their dotted names. */
  async stateDict(): Promise<StateDict> {
    const out: StateDict = {};
    for (const [n, t] of [...this.namedParameters(), ...this.namedBuffers()]) {
      out[n] = { shape: [...t.shape], data: await t.data() };
    }
    return out;
  }

  /**
   * Loads values by dotted name. Shapes must match; with `strict` (the default) every
   * name must be present and no extra names may appear.
   */
  loadStateDict(dict: StateDict, opts: { strict?: boolean } = {}): void {
    const strict = opts.strict ?? true;
    const own = new Map([...this.namedParameters(), ...this.namedBuffers()]);
    if (strict) {
      const missing = [...own.keys()].filter((k) => !(k in dict));
      const extra = Object.keys(dict).filter((k) => !own.has(k));
      if (missing.length || extra.length) {
        const few = (l: string[]) =>
          `${l.length}${
            l.length ? ` (${l.slice(0, 3).join(", ")}${l.length > 3 ? ", …" : ""})` : ""
          }`;
        throw new Error(`loadStateDict: missing ${few(missing)}, unexpected ${few(extra)}`);
      }
    }
    for (const [name, t] of own) {
      const e = dict[name];
      if (!e) continue;
      const same = e.shape.length === t.shape.length && e.shape.every((d, k) => d === t.shape[k]);
      if (!same) {
        throw new Error(`loadStateDict: ${name} has shape [${e.shape}], expected [${t.shape}]`);
      }
      gpu().upload(t.buffer, e.data);
    }
  }

  /** Releases every parameter and buffer (and their gradients). */
  dispose(): void {
    this.zeroGrad();
    for (const [, t] of [...this.namedParameters(), ...this.namedBuffers()]) t.dispose();
  }
}

/**
 * The parameters that take gradients (`requiresGrad`) and the buffers of `m`: what
 * training changes, so what checkpoints and early stopping keep (frozen parameters never
 * change).
 *
 * @example
 * const saved = trainedTensors(model).map(([name]) => name);
 */
export function trainedTensors(m: Module): [string, Tensor][] {
  return [...m.namedParameters().filter(([, t]) => t.requiresGrad), ...m.namedBuffers()];
}
