/**
 * Layers for the ONNX operators that have no exact engine module: Gemm / MatMul with a
 * weight (PyTorch's [out, in] layout), Flatten at an axis, Reshape with a shape computed
 * from shapes, softmax with the pre-13 "coerce to 2-D" rule, an op with a constant operand
 * and ops of several runtime tensors. Each keeps what its codec (onnx/codecs/) needs to
 * write it back; the resize layers live with their codec (onnx/codecs/resize.ts).
 *
 * @module
 */
import { linear, matmul } from "../core/ops/matmul.ts";
import { add, div, mul, relu as reluOp, sub } from "../core/ops/elementwise.ts";
import { concat, reshape, transpose } from "../core/ops/shape.ts";
import { logSoftmax, softmax } from "../core/ops/softmax.ts";
import { Module } from "../core/nn/module.ts";
import { fromArray, type Tensor } from "../core/tensor.ts";

/** A layer that may take several runtime tensors (graph mode passes them all). */
export abstract class MultiInputLayer extends Module {
  /** Computes the output from every runtime tensor input, in the node's order. */
  abstract forwardMany(xs: Tensor[]): Tensor;
  /** One input: `forwardMany([x])`. */
  forward(x: Tensor): Tensor {
    return this.forwardMany([x]);
  }
}

/**
 * y = x·Wᵀ + b, ONNX's Gemm (and MatMul by a constant) with the weight stored as PyTorch
 * stores Linear's: `weight` [out, in], `bias` [out]. transB = 0 weights are transposed and
 * alpha, beta folded into them at import; transA transposes the input; a constant C that is
 * not one row is added as the buffer `c`.
 */
export class GemmLayer extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  readonly c: Tensor | null;

  constructor(
    weight: Float32Array,
    readonly outFeatures: number,
    readonly inFeatures: number,
    bias: Float32Array | null,
    c: { data: Float32Array; dims: number[] } | null = null,
    readonly transA = false,
  ) {
    super();
    this.weight = this.param("weight", fromArray(weight, [outFeatures, inFeatures]));
    this.bias = bias ? this.param("bias", fromArray(bias, [outFeatures])) : null;
    this.c = c ? this.buffer("c", fromArray(c.data, c.dims)) : null;
  }

  /** Runs the product, fusing a following ReLU when `relu` is set. */
  forwardRelu(x: Tensor, relu: boolean): Tensor {
    const a = this.transA ? transpose(x) : x;
    const y = linear(a, this.weight, this.bias, relu && !this.c);
    if (!this.c) return y;
    const z = add(y, this.c);
    return relu ? reluOp(z) : z;
  }

  forward(x: Tensor): Tensor {
    return this.forwardRelu(x, false);
  }
}

/** Flatten at `axis`: [d0…d(axis−1), d(axis)…] → [∏ first, ∏ rest] (ONNX's Flatten). */
export class FlattenLayer extends Module {
  constructor(readonly axis = 1) {
    super();
  }
  forward(x: Tensor): Tensor {
    const ax = this.axis < 0 ? this.axis + x.shape.length : this.axis;
    const outer = x.shape.slice(0, ax).reduce((p, d) => p * d, 1);
    return reshape(x, [outer, x.size / outer]);
  }
}

/**
 * Reshape whose target comes from a function of the input's shape (ONNX computes it with
 * Shape → Gather → Unsqueeze → Concat, or gives a constant). 0 copies the input's
 * dimension (unless `allowzero`), −1 is inferred.
 */
export class ReshapeLayer extends Module {
  constructor(
    readonly target: (x: Tensor) => number[],
    readonly allowzero = false,
  ) {
    super();
  }
  /** The concrete shape for input `x`. */
  shapeFor(x: Tensor): number[] {
    const t = this.target(x);
    return t.map((d, k) => (d === 0 && !this.allowzero ? x.shape[k] : d));
  }
  forward(x: Tensor): Tensor {
    return reshape(x, this.shapeFor(x));
  }
}

/**
 * Softmax / log-softmax. Before opset 13 ONNX flattens the input to 2-D at `axis` (default
 * 1) and normalises each row; from 13 it normalises along `axis` (default −1).
 */
export class SoftmaxLayer extends Module {
  constructor(readonly axis: number, readonly coerce2d: boolean, readonly log: boolean) {
    super();
  }
  forward(x: Tensor): Tensor {
    const f = this.log ? logSoftmax : softmax;
    const ax = this.axis < 0 ? this.axis + x.shape.length : this.axis;
    if (!this.coerce2d || ax === x.shape.length - 1) return f(x, ax);
    const outer = x.shape.slice(0, ax).reduce((p, d) => p * d, 1);
    return reshape(f(reshape(x, [outer, x.size / outer]), 1), x.shape);
  }
}

/** The elementwise binary ops an imported graph may use. */
export type BinaryOp = "Add" | "Sub" | "Mul" | "Div";

function binaryOp(op: BinaryOp, a: Tensor, b: Tensor): Tensor {
  switch (op) {
    case "Add":
      return add(a, b);
    case "Sub":
      return sub(a, b);
    case "Mul":
      return mul(a, b);
    case "Div":
      return div(a, b);
  }
}

/** A binary op with one constant operand, kept as the buffer `constant` (not trained). */
export class ConstBinaryLayer extends Module {
  readonly constant: Tensor;
  constructor(
    readonly op: BinaryOp,
    value: { data: Float32Array; dims: number[] },
    readonly constFirst: boolean,
  ) {
    super();
    this.constant = this.buffer("constant", fromArray(value.data, value.dims));
  }
  forward(x: Tensor): Tensor {
    return this.constFirst
      ? binaryOp(this.op, this.constant, x)
      : binaryOp(this.op, x, this.constant);
  }
}

/** A binary op of two runtime tensors (residual additions, gates). */
export class BinaryLayer extends MultiInputLayer {
  constructor(readonly op: BinaryOp) {
    super();
  }
  forwardMany(xs: Tensor[]): Tensor {
    return binaryOp(this.op, xs[0], xs[1]);
  }
}

/** MatMul of two runtime tensors. */
export class MatMulLayer extends MultiInputLayer {
  forwardMany(xs: Tensor[]): Tensor {
    return matmul(xs[0], xs[1]);
  }
}

/** Concat of runtime tensors along `axis`. */
export class ConcatLayer extends MultiInputLayer {
  constructor(readonly axis: number) {
    super();
  }
  forwardMany(xs: Tensor[]): Tensor {
    return concat(xs, this.axis < 0 ? this.axis + xs[0].shape.length : this.axis);
  }
}

/** Transpose by `perm` (default: reverse the axes). */
export class TransposeLayer extends Module {
  constructor(readonly perm?: number[]) {
    super();
  }
  forward(x: Tensor): Tensor {
    return transpose(x, this.perm);
  }
}

/** Passes its input through (a graph value that is only renamed). */
export class IdentityLayer extends Module {
  forward(x: Tensor): Tensor {
    return x;
  }
}
