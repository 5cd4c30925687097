/**
 * The autograd tape: ops call `record` to attach a node (inputs, saved tensors, gradient
 * rule) to their output when any input requires a gradient; `noGrad` switches recording
 * off. It knows nothing about kernels: `backward()` in `autograd.ts` walks what it records.
 */
import { type GradNode, type Tensor, trackNode } from "./tensor.ts";

let enabled = true;
let seq = 0;
const outIds = new WeakMap<GradNode, number>();

/** Whether ops currently record for autograd. */
export function isGradEnabled(): boolean {
  return enabled;
}

/**
 * Runs `fn` without recording autograd nodes (evaluation, optimizer updates).
 *
 * @example
 * const logits = noGrad(() => model.forward(x));
 */
export function noGrad<T>(fn: () => T): T {
  const was = enabled;
  enabled = false;
  try {
    const r = fn();
    if (r instanceof Promise) {
      enabled = was;
      throw new Error("noGrad() takes a synchronous function");
    }
    return r;
  } finally {
    enabled = was;
  }
}

/**
 * Records `out` as made from `inputs` by an op whose gradient rule is `backward`.
 * `backward(g, saved)` gets the output's gradient and aliases of `[...inputs, ...extra]`,
 * and returns one gradient (or null) per input, each shaped like that input. `release`
 * frees what the rule keeps outside tensors: it runs when the node is released, or at
 * once when nothing is recorded.
 */
export function record(
  name: string,
  out: Tensor,
  inputs: Tensor[],
  backward: (g: Tensor, saved: Tensor[]) => (Tensor | null)[],
  extra: Tensor[] = [],
  release?: () => void,
): Tensor {
  if (!enabled || !inputs.some((t) => t.requiresGrad)) {
    release?.();
    return out;
  }
  const saved = [...inputs, ...extra].map((t) => t.alias().keep());
  const node: GradNode = { seq: seq++, inputs, saved, backward, name, release };
  outIds.set(node, out.id);
  out.node = node;
  out.requiresGrad = true;
  trackNode(node);
  return out;
}

let current = "";

/** The name of the op whose gradient rule `backward()` is running now ("" outside one). */
export function backwardOp(): string {
  return current;
}

/** Runs a node's gradient rule with its op's name visible to `backwardOp()` (profiling). */
export function runBackward<T>(name: string, fn: () => T): T {
  const was = current;
  current = name;
  try {
    return fn();
  } finally {
    current = was;
  }
}

/** The id of the tensor a recorded node produced (the key its gradient is routed by). */
export function outputId(node: GradNode): number {
  return outIds.get(node)!;
}
