/**
 * Reverse-mode automatic differentiation: ops record a node on the tape when any input
 * requires a gradient; `backward()` walks the nodes reachable from a result in reverse
 * order and accumulates gradients into the leaves' `grad`.
 */
import { type GradNode, releaseNode, type Tensor, tidy, trackNode } from "./tensor.ts";
import { add, full } from "./ops/elementwise.ts";

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
 * and returns one gradient (or null) per input, each shaped like that input.
 */
export function record(
  name: string,
  out: Tensor,
  inputs: Tensor[],
  backward: (g: Tensor, saved: Tensor[]) => (Tensor | null)[],
  extra: Tensor[] = [],
): Tensor {
  if (!enabled || !inputs.some((t) => t.requiresGrad)) return out;
  const saved = [...inputs, ...extra].map((t) => t.alias().keep());
  const node: GradNode = { seq: seq++, inputs, saved, backward, name };
  outIds.set(node, out.id);
  out.node = node;
  out.requiresGrad = true;
  trackNode(node);
  return out;
}

/**
 * Computes gradients of `root` (seeded with ones, or `seed`) with respect to every leaf
 * that requires them, adding into each leaf's `grad`. The recorded nodes are released
 * afterwards unless `retainGraph` is set.
 */
export function backward(root: Tensor, seed?: Tensor, opts: { retainGraph?: boolean } = {}): void {
  if (!root.node) {
    throw new Error(
      `backward(): ${root.describe()} was not computed from tensors that require grad`,
    );
  }
  const nodes: GradNode[] = [];
  const seen = new Set<GradNode>();
  const stack = [root.node];
  while (stack.length) {
    const n = stack.pop()!;
    if (seen.has(n)) continue;
    seen.add(n);
    nodes.push(n);
    for (const i of n.inputs) if (i.node && !seen.has(i.node)) stack.push(i.node);
  }
  nodes.sort((a, b) => b.seq - a.seq);
  tidy(() =>
    noGrad(() => {
      const grads = new Map<number, Tensor>();
      grads.set(root.id, seed ?? full(root.shape, 1));
      for (const n of nodes) {
        const id = outIds.get(n)!;
        const g = grads.get(id);
        if (!g) continue;
        grads.delete(id);
        if (n.saved.length === 0 && n.inputs.length > 0) {
          throw new Error(`backward(): the graph through ${n.name} was already released`);
        }
        const gin = n.backward(g, n.saved);
        n.inputs.forEach((inp, k) => {
          const gi = gin[k];
          if (!gi || !inp.requiresGrad) return;
          if (gi.size !== inp.size) {
            throw new Error(`${n.name} backward gave [${gi.shape}] for input [${inp.shape}]`);
          }
          if (inp.node) {
            const prev = grads.get(inp.id);
            grads.set(inp.id, prev ? add(prev, gi) : gi);
          } else {
            const leaf = inp.base;
            if (leaf.grad) {
              const sum = add(leaf.grad, gi).keep();
              leaf.grad.dispose();
              leaf.grad = sum;
            } else {
              leaf.grad = gi.alias(leaf.shape, false).keep();
            }
          }
        });
      }
    })
  );
  if (!opts.retainGraph) { for (const n of nodes) releaseNode(n); }
}
