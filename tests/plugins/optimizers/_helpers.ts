/** Shared by the optimizer tests: the PyTorch fixture, parameter set-up and error measures. */
import { initGpu } from "../../../core/gpu.ts";
import { fromArray, type Tensor } from "../../../core/tensor.ts";
import type { Optimizer } from "../../../plugins/optimizers/chain.ts";

/** One case of fixtures/optimizers/torch_refs.json. */
export interface TorchCase {
  name: string;
  shapes: number[][];
  w0: number[][];
  grads: number[][][];
  weights: number[][][];
  state: Record<string, number[]>[];
}

/** The fixture made by fixtures/optimizers/make_torch_refs.py. */
export const torchRefs: { torch: string; steps: number; cases: TorchCase[] } = JSON.parse(
  Deno.readTextFileSync(new URL("../../../fixtures/optimizers/torch_refs.json", import.meta.url)),
);

/** The case called `name`. */
export function torchCase(name: string): TorchCase {
  const c = torchRefs.cases.find((x) => x.name === name);
  if (!c) throw new Error(`no torch case ${name}`);
  return c;
}

/** Fresh parameters (requiresGrad, kept) holding a case's initial weights. */
export async function params(c: TorchCase): Promise<Tensor[]> {
  await initGpu();
  return c.w0.map((w, k) => {
    const t = fromArray(w, c.shapes[k]).keep();
    t.requiresGrad = true;
    t.name = `p${k}`;
    return t;
  });
}

/** Max |a − b| / max(max |b|, floor): the normwise relative error. */
export function relErr(a: ArrayLike<number>, b: ArrayLike<number>, floor = 1e-6): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let d = 0, m = floor;
  for (let k = 0; k < a.length; k++) {
    d = Math.max(d, Math.abs(a[k] - b[k]));
    m = Math.max(m, Math.abs(b[k]));
  }
  return d / m;
}

/**
 * Runs a case: feeds its gradients step by step (skipping params in `frozen`), calls
 * `between(step)` after each step, and returns the worst relative error of the weights
 * over all steps, reading back only after every step's work is recorded.
 */
export async function runCase(
  c: TorchCase,
  ps: Tensor[],
  opt: Optimizer,
  opts: { frozen?: number[]; between?: (s: number) => void } = {},
): Promise<number> {
  let worst = 0;
  for (let s = 0; s < c.grads.length; s++) {
    opt.zeroGrad();
    ps.forEach((p, k) => {
      if (opts.frozen?.includes(k)) return;
      p.grad = fromArray(c.grads[s][k], c.shapes[k]).keep();
    });
    opt.step();
    opts.between?.(s);
    for (let k = 0; k < ps.length; k++) {
      worst = Math.max(worst, relErr(await ps[k].data(), c.weights[s][k]));
    }
  }
  opt.zeroGrad();
  return worst;
}
