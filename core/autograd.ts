/**
 * Reverse-mode automatic differentiation: ops record a node on the tape (`tape.ts`) when
 * any input requires a gradient; `backward()` walks the nodes reachable from a result in
 * reverse order and accumulates gradients into the leaves' `grad`, with the raw kernels
 * of `ops/raw.ts` (which record nothing). The tape's API is re-exported here.
 */
import { type GradNode, releaseNode, type Tensor, tidy } from "./tensor.ts";
import { elementwise, full } from "./ops/raw.ts";
import { noGrad, outputId, runBackward } from "./tape.ts";

export { isGradEnabled, noGrad, record } from "./tape.ts";

/** a + b for two gradients of the same value (a's shape). */
function accumulate(a: Tensor, b: Tensor): Tensor {
  return elementwise("a + b", { a, b }, a.shape);
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
        const id = outputId(n);
        const g = grads.get(id);
        if (!g) continue;
        grads.delete(id);
        if (n.saved.length === 0 && n.inputs.length > 0) {
          throw new Error(`backward(): the graph through ${n.name} was already released`);
        }
        const gin = runBackward(n.name, () => n.backward(g, n.saved));
        n.inputs.forEach((inp, k) => {
          const gi = gin[k];
          if (!gi || !inp.requiresGrad) return;
          if (gi.size !== inp.size) {
            throw new Error(`${n.name} backward gave [${gi.shape}] for input [${inp.shape}]`);
          }
          if (inp.node) {
            const prev = grads.get(inp.id);
            grads.set(inp.id, prev ? accumulate(prev, gi) : gi);
          } else {
            const leaf = inp.base;
            if (leaf.grad) {
              const sum = accumulate(leaf.grad, gi).keep();
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
