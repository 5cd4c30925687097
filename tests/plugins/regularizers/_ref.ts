/** A float64 reference of SGD with a gradient transform, for the regularizer tests. */
import { fromArray, type Tensor } from "../../../core/tensor.ts";
import type { Optimizer } from "../../../plugins/optimizers/chain.ts";

/** Runs `steps` steps of `opt` on one parameter with gradients `grads`, returns its values. */
export async function runOne(p: Tensor, opt: Optimizer, grads: number[][]): Promise<Float32Array> {
  for (const g of grads) {
    opt.zeroGrad();
    p.grad = fromArray(g, p.shape).keep();
    opt.step();
  }
  opt.zeroGrad();
  return await p.data();
}

/** A kept parameter that requires grad. */
export function param(values: number[]): Tensor {
  const t = fromArray(values).keep();
  t.requiresGrad = true;
  return t;
}

/** float64 SGD where `dir(g, w)` makes the update direction, `pre(w)` transforms w first. */
export function sgdRef(
  w0: number[],
  grads: number[][],
  lr: number,
  dir: (g: number, w: number) => number,
  pre: (w: number) => number = (w) => w,
): number[] {
  const w = [...w0];
  for (const g of grads) {
    for (let i = 0; i < w.length; i++) {
      const d = dir(g[i], w[i]);
      w[i] = pre(w[i]) - lr * d;
    }
  }
  return w;
}
