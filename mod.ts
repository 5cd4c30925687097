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
/**
 * When the end of a step (an outermost `tidy`) submits its work: each step on real GPUs, at
 * the next read on software adapters (`"auto"`), or as set.
 *
 * @example
 * setSubmitPolicy("step"); // overlap the host's recording with the GPU on any adapter
 */
export { setSubmitPolicy, type SubmitPolicy } from "./core/gpu_submit.ts";
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
export { Module, type StateDict, type StateEntry, trainedTensors } from "./core/nn/module.ts";
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
/**
 * Layer plugins (kind "layer", registered on import): dropout and batch norm, placed in a
 * network by its builder.
 *
 * @example
 * const bn = create<BatchNormFactory>("layer", "batchnorm", { dims: 2 });
 * const net = new Sequential(new Conv2d(3, 16, 3), bn(16), new ReLU());
 */
export { type BatchNormFactory } from "./plugins/layers/index.ts";
/**
 * Training callbacks (kind "callback", registered on import): early stopping, which `fit`
 * consults after each epoch and which keeps the best weights.
 *
 * @example
 * const stop = create<EarlyStopping>("callback", "early_stopping", { monitor: "TestLoss", patience: 3 });
 */
export { EarlyStopping, type EarlyStoppingOptions } from "./plugins/callbacks/index.ts";
/** The plugin kinds and what each means (the wrong-kind error quotes it). */
export { KINDS } from "./plugins/registry.ts";
/**
 * Loggers (kind "logger", registered by plugins/loggers/index.ts): what writes a run's
 * records. The default set ("tensorboard", "csv", "summary", "report") writes the run's
 * event file, metrics.csv row, summary.json and report.html; "jsonl" adds JSON lines. A
 * logger is a plain object with optional `start`, `epoch`, `step`, `end` and `close`.
 *
 * @example
 * const printer: Logger = { epoch: ({ metrics }) => console.log(metrics.epoch, metrics.test.accuracy) };
 * await fit({ ...r.fit, model, loss, optimizer, train, test, classes, loggers: [...defaultLoggers(), printer] });
 */
export {
  csvLogger,
  DEFAULT_LOGGERS,
  defaultLoggers,
  type EpochLog,
  jsonlLogger,
  type Logger,
  LOGGER_PLUGINS,
  reportLogger,
  type RunStart,
  STEP_LOSS_TAG,
  summaryLogger,
  tensorboardLogger,
} from "./stages/log/loggers.ts";
/**
 * Plugin files and choices from the command line: `--plugin <file>` (`loadPlugins`),
 * `--pooling name:opt=v` (`poolingFactory`), `--regularizer l1=1e-5,clip=1.0`
 * (`regularizerSpecs`), `--early-stopping patience=3` (`earlyStoppingFactory`), `--stage
 * name@point` (`parseStages`, `dataStages`) and `--logger +name` / `-name` (`parseLoggers`);
 * `checkChoices` checks them all before any GPU work, `runPlugins` gives a run's fit fields.
 *
 * @example
 * await loadPlugins(["../my_plugins/maxavg_pool.ts"]);
 * const pool = poolingFactory("maxavg:kernel=2")({ kernel: 3, stride: 3 }); // a Module
 * const fields = runPlugins({ logger: "+jsonl", earlyStopping: "patience=3" }); // spread into fit
 */
export { loadedPlugins, loadPlugins, pluginUrl, takePluginFlags } from "./training/plugin_files.ts";
export {
  type Choice,
  choiceItems,
  earlyStoppingFactory,
  isOff,
  parseChoice,
  parseRegularizers,
  POOLING_ALIASES,
  poolingFactory,
  REGULARIZER_KEYS,
  regularizerSpecs,
} from "./training/choices.ts";
export {
  checkChoices,
  checkStagePoints,
  dataStages,
  makeLoggers,
  parseLoggers,
  parseStages,
  pluginHelp,
  type RunPluginFields,
  runPlugins,
  STAGE_POINTS,
  type StageChoice,
  type StagePoint,
  stagesAt,
} from "./training/run_plugins.ts";
/** The pooling slot of the networks in code: a factory given the slot's window, and the shape a pool gives. */
export { type PoolFactory, poolOutput, type PoolWindow } from "./models/nets.ts";
/**
 * The chunks between stages: `FileEntry` (a path and its label), `Sample` (a decoded
 * image), `Batch` (NCHW floats, labels, paths); what a stage author consumes and produces.
 *
 * @example
 * const flipLabels = () => new TransformStream<Batch, Batch>({
 *   transform(b, c) { c.enqueue({ ...b, labels: b.labels.map((l) => 5 - l) }); },
 * });
 */
export type {
  Batch,
  FileEntry,
  FloatImage,
  FloatSample,
  RawImage,
  Sample,
} from "./stages/types.ts";
/**
 * An image folder (the Intel layout or a plain class-per-folder tree) opened for training:
 * classes, the per-epoch shuffled and augmented training batches, the test batches and the
 * data summary of skipped files.
 *
 * @example
 * const data = openImageData({ root: "fixtures/intel", seed: 0, strict: false });
 * for await (const b of data.train(0, 32)) console.log(b.shape, b.labels.length);
 * data.close();
 */
export {
  type DataStages,
  type ImageData,
  type ImageDataOptions,
  openImageData,
  type StageMaker,
  through,
} from "./stages/image_data.ts";
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
export { fit, type FitOptions, type FitStages } from "./training/fit.ts";
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
export {
  checkNumber,
  checkTraining,
  poolingOption,
  runOptimizer,
  trainingOptions,
} from "./training/options.ts";
/** The output folder's lock (exit code 3 when a live run holds it). */
export { acquireLock, LockHeldError } from "./training/lock.ts";
/** SIGINT/SIGTERM handling: checkpoint, then exit 130/143. */
export { Interrupt, InterruptedError } from "./training/interrupt.ts";
/** The one best-epoch rule (highest test accuracy, ties to lower test loss, then earlier). */
export { bestOf, compareEpochs } from "./stages/log/best.ts";
/**
 * ONNX import: a model file (VGG16 from the model zoo or torch.onnx.export) becomes a
 * Module whose layers run on the engine; unsupported operators fail at load, naming them.
 *
 * @example
 * const vgg = await importOnnxFile("vgg16-12.onnx");
 * const y = noGrad(() => vgg.forward(x));
 */
export {
  checkImportable,
  importOnnx,
  importOnnxFile,
  OnnxImportError,
  supportedOps,
} from "./onnx/import.ts";
/**
 * ONNX export of any network built from the engine's layers (and plugin layers with a
 * codec); the file runs in ONNX Runtime and imports back.
 *
 * @example
 * await exportOnnx(model, "model.onnx", { inputShape: [1, 3, 150, 150] });
 */
export { exportOnnx, exportOnnxBytes, type ExportOptions } from "./onnx/export.ts";
/** The ONNX protobuf reader: a file → a typed graph (nodes, attributes, initializers). */
export { type OnnxModel, readOnnx, readOnnxFile } from "./onnx/read.ts";
/**
 * Layer codecs: how a layer family is imported from and exported to ONNX, registered by op
 * type; a plugin layer registers its own in the same file (see plugins/README.md).
 *
 * @example
 * registerCodec({ name: "median_pool", opTypes: ["MedianPool"], import: …, export: … });
 */
export { type Codec, registerCodec } from "./onnx/codec.ts";
/**
 * Transfer learning: a new head on an imported backbone (frozen, or with its last block
 * trainable), as the Intel pipeline uses it.
 *
 * @example
 * const net = transferModel(await importOnnxFile("vgg16-12.onnx"), { classes: 6, hidden: [256], dropout: 0.3 });
 */
export { transferModel, TransferNet, type TransferOptions } from "./models/transfer.ts";
/** The pipeline-file contract used by `deno task pipeline`. */
export {
  definePipeline,
  flagOption,
  numberOption,
  type Options,
  type OptionSpec,
  type OptionValues,
  type Pipeline,
  type PipelineDefinition,
  stringOption,
  TrainingError,
  UsageError,
} from "./training/pipeline.ts";

// Types the signatures above use, so that every public signature names a public type.
/** The engine's supporting types: GPU bindings and statistics, autograd nodes, module state, fusion rules, op options. */
export type {
  Bindable,
  Binding,
  BufferWindow,
  DispatchHook,
  GpuStats,
  RecordedDispatch,
  TextureCopy,
} from "./core/gpu.ts";
export type { GradNode } from "./core/tensor.ts";
export type { Stateful } from "./core/nn/module.ts";
export type { Fused, FusionRule } from "./core/nn/sequential.ts";
export type { BatchNormOptions } from "./core/nn/batchnorm.ts";
export type { BatchNormOpOptions } from "./core/ops/batchnorm.ts";
export type { AvgPoolWindow } from "./core/ops/batchnorm_pool.ts";
export type { ConvOptions, Padding, Pair } from "./core/ops/conv_ref.ts";
export type { NllLossOptions } from "./core/ops/nll.ts";
/** The ONNX graph as read (nodes, tensors, attributes, types), and what importers and exporters are given. */
export type {
  AttrValue,
  ExternalDataRef,
  OnnxDim,
  OnnxFunction,
  OnnxGraph,
  OnnxNode,
  OnnxSparseTensor,
  OnnxTensor,
  OnnxType,
  OpsetId,
  ReadOptions,
  TensorData,
  ValueInfo,
} from "./onnx/schema.ts";
export type { ImportOptions } from "./onnx/import.ts";
export type { CpuValue, Importer, Shapes, Val } from "./onnx/import_context.ts";
export type { Attr, Emitter, ExportContext } from "./onnx/emit.ts";
export type { Container, GraphStep, OnnxNet } from "./onnx/graph_module.ts";
/** Plugin options and state: optimizers, gradient transforms, pooling windows, layers, callbacks. */
export type { LinkVars, OptimizerOptions, ScalarContext } from "./plugins/optimizers/link.ts";
export type { ParamStateIn } from "./plugins/optimizers/state.ts";
export type { AdagradOptions } from "./plugins/optimizers/adagrad.ts";
export type { AdamOptions } from "./plugins/optimizers/adam.ts";
export type { AdamWOptions } from "./plugins/optimizers/adamw.ts";
export type { MomentumOptions } from "./plugins/optimizers/momentum.ts";
export type { RmspropOptions } from "./plugins/optimizers/rmsprop.ts";
export type { ClipOptions } from "./plugins/regularizers/clip.ts";
export type { L1Options } from "./plugins/regularizers/l1.ts";
export type { L2Options } from "./plugins/regularizers/l2.ts";
export type { WeightDecayOptions } from "./plugins/regularizers/weight_decay.ts";
export type { PoolPadding, WindowOptions, WindowPool2d } from "./plugins/pooling/window.ts";
export type { AvgPoolOptions } from "./plugins/pooling/average.ts";
export type { LpPoolOptions } from "./plugins/pooling/lp.ts";
export type { MaxPoolOptions } from "./plugins/pooling/max.ts";
export type { BatchNormRegularizerOptions } from "./plugins/layers/batchnorm.ts";
export type { EarlyStoppingState } from "./plugins/callbacks/early_stopping.ts";
/** The stages' options and records: decoding, batches, evaluation, metrics, logs. */
export type { DataReport, SkippedFile } from "./stages/types.ts";
export type { ImageDataset, Layout } from "./stages/load.ts";
export type { DecodeOptions } from "./stages/decode.ts";
export type { Outcome, SampleWork } from "./stages/workers/messages.ts";
export type { DecodePool } from "./stages/workers/prefetch.ts";
export type { ResizeOptions } from "./stages/resize.ts";
export type { NormalizeOptions } from "./stages/normalize.ts";
export type { BatchOptions } from "./stages/batch.ts";
export type { ImageBatchOptions } from "./stages/images.ts";
export type { DeviceBatch } from "./stages/device.ts";
export type { StepOptimizer, TrainStepOptions } from "./stages/train.ts";
export type { EvaluateOptions, Evaluation, HValue, SamplePrediction } from "./stages/evaluate.ts";
export type { Metrics, Prediction, SplitFigures } from "./stages/metrics.ts";
export type { Scored } from "./stages/log/best.ts";
export type { LogOptions, LogStage } from "./stages/log/stage.ts";
export type { RunSummary, SummaryEpoch } from "./stages/log/summary.ts";
export type { RegularizerSpec } from "./plugins/optimizers/plugin.ts";
export type { SessionStatus } from "./stages/log/hparams_plugin.ts";
export type { ProgressState, ProgressWriter } from "./stages/log/progress.ts";
export type { AtomicWriteOptions } from "./stages/atomic.ts";
/** The orchestration's types: checkpoints, grids, locks, signals, shared flags, run specs. */
export type { Checkpoint } from "./training/checkpoint.ts";
export type { FitOptimizer, TrialReporter } from "./training/fit.ts";
export type { Grid, GridRun } from "./training/grid.ts";
export type { StopSignal } from "./training/interrupt.ts";
export type { Lock, LockInfo } from "./training/lock.ts";
export type { TrainingDefaults, TrainingSpecs } from "./training/options.ts";
export type { OptionType, OptionValue } from "./training/pipeline.ts";
export type { GridSpec } from "./training/run_spec.ts";
