/** Sequential: modules applied in order, named `0`, `1`, … as in PyTorch. */
import type { Tensor } from "../tensor.ts";
import { Module } from "./module.ts";

/**
 * A chain of modules.
 *
 * @example
 * const mlp = new Sequential(new Linear(2, 16), new ReLU(), new Linear(16, 2));
 */
export class Sequential extends Module {
  readonly layers: Module[];

  constructor(...layers: Module[]) {
    super();
    this.layers = layers;
    layers.forEach((m, k) => this.child(String(k), m));
  }

  forward(x: Tensor): Tensor {
    let y = x;
    for (const m of this.layers) y = m.forward(y);
    return y;
  }
}
