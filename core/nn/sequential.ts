/**
 * Sequential: modules applied in order, named `0`, `1`, … as in PyTorch — and `runChain`,
 * the one chain runner every chain of modules uses (Sequential here, the imported ONNX
 * chains and containers in onnx/graph_module.ts). It fuses a module with the one after it
 * when a fusion rule allows (Conv2d, Linear or BatchNorm followed by ReLU run as one kernel
 * with the activation in its epilogue) and releases each intermediate as soon as the next exists
 * (autograd keeps its own references to what backward needs).
 *
 * Fusion rules live in one list: the engine's own (Conv2d / Linear / BatchNorm → ReLU) are
 * below; other layers add theirs with `registerFusion` (the ONNX Gemm layer does, through
 * its codec's `fuse` hook).
 *
 * @module
 */
import { conv2d } from "../ops/conv.ts";
import { linear } from "../ops/matmul.ts";
import type { Tensor } from "../tensor.ts";
import { ReLU } from "./activation.ts";
import { BatchNorm } from "./batchnorm.ts";
import { Conv2d } from "./conv.ts";
import { Linear } from "./linear.ts";
import { Module } from "./module.ts";

/** A fusion of more than two modules: the result and how many modules it ran (≥ 2). */
export interface Fused {
  /** The last fused module's output. */
  y: Tensor;
  /** How many modules, from `m` on, the step ran. */
  span: number;
}

/**
 * A fusion rule: runs `m` and `next` on `x` as one step and returns the result, or null
 * when it does not apply (then both run on their own). The result must equal
 * `next.forward(m.forward(x))`, gradients included. A rule may also take `after` (the
 * module after `next`, when there is one) into the step and return `{ y, span: 3 }`.
 */
export type FusionRule = (
  m: Module,
  next: Module,
  x: Tensor,
  after?: Module,
) => Tensor | Fused | null;

/** Conv2d (tied or no bias) → ReLU: the convolution kernel applies max(·, 0) itself. */
const convRelu: FusionRule = (m, next, x) =>
  m instanceof Conv2d && next instanceof ReLU && m.bias?.shape.length !== 3
    ? conv2d(x, m.weight, m.bias, { ...m.options, relu: true })
    : null;

/** Linear → ReLU: the matmul kernel's epilogue applies the activation. */
const linearRelu: FusionRule = (m, next, x) =>
  m instanceof Linear && next instanceof ReLU ? linear(x, m.weight, m.bias, true) : null;

/** BatchNorm1d/2d → ReLU: the normalising kernel applies the activation. */
const batchNormRelu: FusionRule = (m, next, x) =>
  m instanceof BatchNorm && next instanceof ReLU ? m.forwardRelu(x) : null;

const rules: FusionRule[] = [convRelu, linearRelu, batchNormRelu];

/**
 * Adds a fusion rule (tried before the earlier ones); returns a function that removes it.
 *
 * @example
 * const remove = registerFusion((m, next, x) =>
 *   m instanceof MyConv && next instanceof ReLU ? m.forwardRelu(x) : null
 * );
 */
export function registerFusion(rule: FusionRule): () => void {
  rules.unshift(rule);
  return () => {
    const k = rules.indexOf(rule);
    if (k >= 0) rules.splice(k, 1);
  };
}

/**
 * `next.forward(m.forward(x))` as one fused step when a rule applies, else null.
 *
 * @example
 * const y = fuseNext(conv, relu, x) ?? relu.forward(conv.forward(x));
 */
export function fuseNext(m: Module, next: Module, x: Tensor): Tensor | null {
  return fuseAt([m, next], 0, x)?.y ?? null;
}

/** The fused step of the first rule that applies at `layers[i]` (with its span), or null. */
function fuseAt(layers: readonly Module[], i: number, x: Tensor): Fused | null {
  for (const rule of rules) {
    const r = rule(layers[i], layers[i + 1], x, layers[i + 2]);
    if (r) return "span" in r ? r : { y: r, span: 2 };
  }
  return null;
}

/**
 * Runs modules in order, fusing pairs a rule allows and releasing each intermediate once
 * the next exists (never `x` itself, nor a kept tensor).
 *
 * @example
 * const y = runChain([conv, new ReLU(), pool], x); // conv + ReLU as one kernel
 */
export function runChain(layers: readonly Module[], x: Tensor): Tensor {
  let y = x;
  for (let i = 0; i < layers.length; i++) {
    let next: Tensor | null = null;
    if (i + 1 < layers.length) {
      const r = fuseAt(layers, i, y);
      if (r) [next, i] = [r.y, i + r.span - 1];
    }
    next ??= layers[i].forward(y);
    if (y !== x && next !== y && !y.kept) y.dispose();
    y = next;
  }
  return y;
}

/**
 * A chain of modules.
 *
 * @example
 * const mlp = new Sequential(new Linear(2, 16), new ReLU(), new Linear(16, 2));
 */
export class Sequential extends Module {
  /** The modules in order (children "0", "1", …). */
  readonly layers: Module[];

  /** Chains `layers`, registered as children under their indices. */
  constructor(...layers: Module[]) {
    super();
    this.layers = layers;
    layers.forEach((m, k) => this.child(String(k), m));
  }

  /** Runs the layers in order, fusing pairs a rule allows (see `runChain`). */
  forward(x: Tensor): Tensor {
    return runChain(this.layers, x);
  }
}
