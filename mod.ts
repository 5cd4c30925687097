/**
 * The public API of the pipeline: the WebGPU engine (tensors, autograd, ops, layers,
 * optimizers) and the pipeline contract. Re-exports only.
 *
 * @example
 * import { initGpu, Linear, ReLU, Sequential, SGD, backward, crossEntropy, fromArray, tidy } from "./mod.ts";
 * await initGpu();
 * const model = new Sequential(new Linear(2, 16), new ReLU(), new Linear(16, 3));
 * const opt = new SGD(model.parameters(), 0.1);
 * tidy(() => { backward(crossEntropy(model.forward(x), y)); opt.step(); opt.zeroGrad(); });
 * @module
 */

/** Acquire the process-wide WebGPU device (`initGpu`) and reach it (`gpu`). */
export { type Gpu, gpu, initGpu, NO_ADAPTER } from "./core/gpu.ts";
/** Float32 tensors on the GPU, their creation and scope-based disposal (`tidy`). */
export { empty, fromArray, sizeOf, Tensor, tidy, zeros } from "./core/tensor.ts";
/** Reverse-mode autodiff: `backward`, `noGrad`, and `record` for writing new ops. */
export { backward, isGradEnabled, noGrad, record } from "./core/autograd.ts";
/** A seeded random generator with saveable state. */
export { Rng } from "./core/random.ts";
/** Elementwise ops with broadcasting, scalar forms and activations. */
export {
  abs,
  add,
  atan,
  div,
  elementwise,
  exp,
  expand,
  full,
  log,
  mul,
  neg,
  pow,
  relu,
  rsub,
  sigmoid,
  sqrt,
  square,
  step,
  sub,
  tanh,
} from "./core/ops/elementwise.ts";
/** Reductions along axes. */
export { max, mean, sum, sumTo } from "./core/ops/reduce.ts";
/** Shape ops: reshape (a view), transpose, slice, concat. */
export { concat, reshape, slice, transpose } from "./core/ops/shape.ts";
/** Batched matmul with transposed operands, and the fused linear layer. */
export { linear, matmul, type MatmulOptions } from "./core/ops/matmul.ts";
/** Numerically stable softmax and log-softmax. */
export { logSoftmax, softmax } from "./core/ops/softmax.ts";
/** Losses: MSE (1/N and 1/2N), BCE on probabilities and logits, NLL, cross-entropy. */
export { bce, bceWithLogits, crossEntropy, mse, nll } from "./core/ops/loss.ts";
/** The base of layers, with PyTorch-style parameter names and state dicts. */
export { Module, type StateDict, type StateEntry } from "./core/nn/module.ts";
/** Layers: Linear, Sequential and the activation modules. */
export { Linear, type LinearOptions } from "./core/nn/linear.ts";
export { Sequential } from "./core/nn/sequential.ts";
export {
  Atan,
  Flatten,
  LogSoftmax,
  ReLU,
  Sigmoid,
  Softmax,
  Step,
  Tanh,
} from "./core/nn/activation.ts";
/** Plain stochastic gradient descent. */
export { SGD } from "./core/nn/sgd.ts";
/** The pipeline-file contract used by `deno task pipeline`. */
export { definePipeline, type Pipeline, TrainingError, UsageError } from "./pipeline.ts";
