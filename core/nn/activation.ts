/** Activation layers: thin modules over the elementwise and softmax ops. */
import { atan, relu, sigmoid, step, tanh } from "../ops/elementwise.ts";
import { logSoftmax, softmax } from "../ops/softmax.ts";
import { reshape } from "../ops/shape.ts";
import type { Tensor } from "../tensor.ts";
import { Module } from "./module.ts";

/** max(x, 0). */
export class ReLU extends Module {
  /** Elementwise max(x, 0), any shape. */
  forward(x: Tensor): Tensor {
    return relu(x);
  }
}

/** The logistic sigmoid. */
export class Sigmoid extends Module {
  /** Elementwise 1 / (1 + e⁻ˣ), any shape. */
  forward(x: Tensor): Tensor {
    return sigmoid(x);
  }
}

/** Hyperbolic tangent. */
export class Tanh extends Module {
  /** Elementwise tanh(x), any shape. */
  forward(x: Tensor): Tensor {
    return tanh(x);
  }
}

/** Arctangent. */
export class Atan extends Module {
  /** Elementwise atan(x), any shape. */
  forward(x: Tensor): Tensor {
    return atan(x);
  }
}

/** The binary step (gradient zero). */
export class Step extends Module {
  /** Elementwise 1 where x > 0, else 0 (no gradient), any shape. */
  forward(x: Tensor): Tensor {
    return step(x);
  }
}

/** Softmax along an axis (default: the last). */
export class Softmax extends Module {
  /** `axis`: the axis to normalise over (negative counts from the end; default -1). */
  constructor(readonly axis = -1) {
    super();
  }
  /** Softmax of `x` along `axis`. */
  forward(x: Tensor): Tensor {
    return softmax(x, this.axis);
  }
}

/** Log-softmax along an axis (default: the last). */
export class LogSoftmax extends Module {
  /** `axis`: the axis to normalise over (negative counts from the end; default -1). */
  constructor(readonly axis = -1) {
    super();
  }
  /** Log-softmax of `x` along `axis`. */
  forward(x: Tensor): Tensor {
    return logSoftmax(x, this.axis);
  }
}

/** Flattens every axis after the first: [n, …] → [n, ∏…]. */
export class Flatten extends Module {
  /** Reshapes [n, …] to [n, ∏…] (a view, no copy). */
  forward(x: Tensor): Tensor {
    return reshape(x, [x.shape[0], x.size / x.shape[0]]);
  }
}
