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
  exp,
  expand,
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
/** The raw elementwise kernel (a WGSL expression, no gradient) and constant tensors. */
export { elementwise, full } from "./core/ops/raw.ts";
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
/** Plain stochastic gradient descent (the optimizer plugins below are the general ones). */
export { SGD } from "./plugins/optimizers/sgd.ts";
/** 2-D convolution (im2col + the tuned matmul) and its layer with PyTorch's layout and init. */
export { conv2d, type Conv2dOpOptions } from "./core/ops/conv.ts";
export { Conv2d, type Conv2dOptions } from "./core/nn/conv.ts";
/** Batch normalisation (batch statistics in training, running statistics in eval). */
export { batchNorm } from "./core/ops/batchnorm.ts";
export { BatchNorm, BatchNorm1d, BatchNorm2d } from "./core/nn/batchnorm.ts";
/** Dropout with a seeded, resumable GPU mask generator. */
export { dropout, DropoutGenerator } from "./core/ops/dropout.ts";
export { Dropout } from "./core/nn/dropout.ts";
/** ONNX's full NegativeLogLikelihoodLoss (weights, ignore_index, reductions). */
export { nllLoss } from "./core/ops/nll.ts";
/** The plugin registry: `register`, `find`, `create`, `names`. */
export { create, find, names, type Plugin, type PluginKind, register } from "./plugins/registry.ts";
/** Pooling plugins (registered on import): max, average, L2/Lp, global, adaptive. */
export {
  AdaptiveAvgPool2d,
  adaptiveAvgPool2d,
  AvgPool2d,
  avgPool2d,
  GlobalAvgPool2d,
  globalAvgPool2d,
  GlobalMaxPool2d,
  globalMaxPool2d,
  LpPool2d,
  lpPool2d,
  MaxPool2d,
  maxPool2d,
} from "./plugins/pooling/index.ts";
/** Optimizer plugins as fused chains (registered on import), and gradient regularizer links. */
export {
  adagrad,
  adam,
  adamw,
  chain,
  type Link,
  momentum,
  nesterov,
  Optimizer,
  type OptimizerState,
  rmsprop,
  sgd,
} from "./plugins/optimizers/index.ts";
export { clipGradNorm, l1, l2, weightDecay } from "./plugins/regularizers/index.ts";
/** Layer regularizers (registered on import): dropout, batch norm, early stopping. */
export { EarlyStopping } from "./plugins/callbacks/early_stopping.ts";
import "./plugins/layers/index.ts";
/** Data stages: load, decode, resize, normalize, augment, shuffle, batch, and the GPU hand-off. */
export { fileSource, openImageDataset } from "./stages/load.ts";
export { decode } from "./stages/decode.ts";
export { resize } from "./stages/resize.ts";
export { normalize } from "./stages/normalize.ts";
export { shuffleFiles } from "./stages/shuffle.ts";
export { augment, type AugmentOptions } from "./stages/augment.ts";
export { batch } from "./stages/batch.ts";
export { imageBatches } from "./stages/images.ts";
export { toDevice } from "./stages/device.ts";
/** Training stages: the train step, evaluation, the run loop, logs and checkpoints. */
export { type StepResult, trainStep } from "./stages/train.ts";
export { type EpochMetrics, evaluate } from "./stages/evaluate.ts";
export { fit, type FitOptions } from "./training/fit.ts";
export { logStage } from "./stages/log/stage.ts";
export { loadCheckpoint, saveCheckpoint } from "./training/checkpoint.ts";
export { expandGrid, parseGrid } from "./training/grid.ts";
/**
 * Runs of a pipeline: `planRuns(o, { tracked, check })` checks flags, grid and resume target;
 * `plan.execute(runOne)` locks the `--out` folder and trains each run into its own folder.
 *
 * @example
 * const plan = await planRuns(o, { tracked: ["lr", "batchSize"] });
 * await plan.execute(async (r) => await fit({ ...r.fit, model, loss: nll, optimizer, train, test, classes }));
 */
export { planRuns, type RunPlan, type RunSpec } from "./training/runs.ts";
/** The shared training flags (`trainingOptions`) and their range checks. */
export { checkNumber, checkTraining, runOptimizer, trainingOptions } from "./training/options.ts";
/** The output folder's lock (exit code 3 when a live run holds it). */
export { acquireLock, LockHeldError } from "./training/lock.ts";
/** SIGINT/SIGTERM handling: checkpoint, then exit 130/143. */
export { Interrupt, InterruptedError } from "./training/interrupt.ts";
/** The one best-epoch rule (highest test accuracy, ties to lower test loss, then earlier). */
export { bestOf, compareEpochs } from "./stages/log/best.ts";
/** The pipeline-file contract used by `deno task pipeline`. */
export { definePipeline, type Pipeline, TrainingError, UsageError } from "./training/pipeline.ts";
