/**
 * The Intel scene classifier: transfer learning from VGG16 (an ONNX file) with a new head,
 * Linear(features, 256) → ReLU → Dropout(0.3) → Linear(256, classes) → LogSoftmax, NLL loss,
 * Adam, augmentation with random perspective and flips, over the practitioner's grid
 * (lr 3e-4 and 3e-5 × batch 32 and 64 × weight decay 0).
 *
 * With no flags it runs on the embedded fixtures (the Intel layout in miniature, 20 training
 * and 8 test images a class) and a tiny VGG-shaped backbone pretrained on other generated
 * scenes (fixtures/onnx/scenes/make_backbone.py), so a new user sees transfer learning work
 * (100% test accuracy for the best run) in about a minute. On the real data and weights:
 *   deno task pipeline intel.ts --data ~/intel --weights ~/vgg16-12.onnx
 *
 * The frozen convolutional part runs on the fastest correct backend found at start (the
 * engine's kernels or ONNX Runtime); with `--no-augment` its features are computed once
 * and cached on disk, keyed by the model's and the data's hashes — unless a `--stage` sits at
 * a data point (decode, augment, batch: image batches, before the frozen part), which
 * needs the images each epoch.
 */
import { join } from "node:path";
import { initGpu } from "../core/gpu.ts";
import { LogSoftmax } from "../core/nn/activation.ts";
import { Module, type Stateful } from "../core/nn/module.ts";
import { nll } from "../core/ops/loss.ts";
import type { Tensor } from "../core/tensor.ts";
import { exportOnnx } from "../onnx/export.ts";
import {
  cachedFeatures,
  type FeatureBackend,
  type FeatureBackendKind,
  featureBatches,
  frozenOnnx,
  hashModel,
  openFeatureBackend,
  selectFeatureBackend,
} from "../training/features.ts";
import { checkImportable, importOnnxFile } from "../onnx/import.ts";
import { readOnnxFile } from "../onnx/read.ts";
import { transferModel, type TransferNet } from "../models/transfer.ts";
import { definePipeline, type Options, UsageError } from "../training/pipeline.ts";
import { fit } from "../training/fit.ts";
import { recall, remember, verdictKey } from "../training/backend_choice.ts";
import { openImageData } from "../stages/image_data.ts";
import { planRuns } from "../training/runs.ts";
import { checkNumber, runOptimizer, trainingOptions } from "../training/options.ts";
import { dataStages, parseStages } from "../training/run_plugins.ts";
import type { Batch } from "../stages/types.ts";

/** The model `fit` trains: the head on precomputed frozen features; state is the whole net. */
class HeadOnFeatures extends Module {
  readonly #softmax = new LogSoftmax();
  constructor(readonly net: TransferNet) {
    super();
  }
  forward(features: Tensor): Tensor {
    return this.#softmax.forward(this.net.forwardHead(features));
  }
  override namedParameters(prefix = ""): [string, Tensor][] {
    return this.net.namedParameters(prefix);
  }
  override namedBuffers(prefix = ""): [string, Tensor][] {
    return this.net.namedBuffers(prefix);
  }
  override namedGenerators(prefix = ""): [string, Stateful][] {
    return this.net.namedGenerators(prefix);
  }
  override train(on = true): this {
    this.net.train(on);
    this.training = on;
    return this;
  }
}

/** A stage replacing each image batch by its frozen features. */
function toFeatures(backend: FeatureBackend, shape: number[]): TransformStream<Batch, Batch> {
  return new TransformStream({
    async transform(b, c) {
      const x = await backend.run(b.x, b.shape);
      const n = b.shape[0];
      c.enqueue({ ...b, x, shape: [n, ...shape] as Batch["shape"] });
    },
  });
}

const BACKENDS = ["auto", "probe", "engine", "ort-node", "ort-wasm", "ort-webgpu"];

/**
 * The frozen part's backend: forced by `--features <kind>`; with `auto` the verdict
 * remembered for this machine and model, else (and with `probe`) measured and remembered.
 */
async function chooseBackend(
  net: TransferNet,
  features: string,
  weights: string,
  o: Options,
): Promise<FeatureBackend> {
  if (features !== "auto" && features !== "probe") {
    return await openFeatureBackend(features as FeatureBackendKind, net);
  }
  const key = verdictKey(weights, { unfreeze: o.unfreezeLastBlock, input: net.inputSize });
  const known = features === "auto" ? await recall(key) : undefined;
  if (known) {
    console.log(
      `features: ${known.kind}, measured fastest on this machine on ${known.measured} ` +
        `(--features probe measures again)`,
    );
    return await openFeatureBackend(known.kind, net);
  }
  const { backend, trials } = await selectFeatureBackend(net, { log: (l) => console.log(l) });
  await remember(key, {
    kind: backend.kind,
    measured: new Date().toISOString(),
    trials: Object.fromEntries(trials.map((t) => [t.kind, t.imagesPerSec ?? t.error ?? ""])),
  });
  return backend;
}

/** The pipeline's own range checks (the shared flags are checked by `planRuns`). */
function check(x: Options): void {
  checkNumber(x, "hidden", { min: 1, int: true });
  checkNumber(x, "dropout", { min: 0, max: 1, maxOpen: true });
  if (!BACKENDS.includes(String(x.features))) {
    throw new UsageError(`--features must be one of ${BACKENDS.join(", ")}`);
  }
  const aug = parseStages(x.stage as string | undefined).find((s) => s.point === "augment");
  if (aug && x.noAugment) throw new UsageError(`--stage ${aug.name}@augment: --no-augment is set`);
}

export default definePipeline({
  name: "intel",
  description: "Intel scenes: transfer learning from VGG16 (ONNX) with a new head.",
  check,
  options: {
    ...trainingOptions({
      data: "fixtures/intel",
      weights: "fixtures/onnx/scenes/backbone.onnx",
      epochs: 8,
      lr: 3e-4,
      batchSize: 32,
      out: "runs/intel",
    }),
    grid: {
      type: "string",
      default: "lr=3e-4,3e-5;batch_size=32,64;weight_decay=0",
      help: 'hyper-parameter grid (JSON or "key=a,b;key2=c"); "none" for one run',
    },
    hidden: { type: "number", default: 256, help: "width of the new head's hidden layer" },
    dropout: { type: "number", default: 0.3, help: "dropout probability in the head" },
    noAugment: { type: "boolean", default: false, help: "no augmentation: cache the features" },
    unfreezeLastBlock: { type: "boolean", default: false, help: "train the last conv block" },
    features: {
      type: "string",
      default: "auto",
      help: `frozen-part backend: ${BACKENDS.join(", ")} (auto: the one measured fastest here)`,
    },
  },
  async run(o) {
    const plan = await planRuns(o, {
      tracked: ["lr", "batchSize", "weightDecay", "optimizer", "seed", "hidden", "dropout"],
      check,
    });
    const opts = plan.options;
    const augment = !opts.noAugment;
    // Fail before any GPU work on a missing, truncated or unsupported model.
    const weights = opts.weights;
    try {
      checkImportable(await readOnnxFile(weights), weights);
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    const data = openImageData({
      root: opts.data,
      seed: opts.seed,
      strict: opts.strict,
      exif: !opts.noExif,
      augment: augment ? { hflip: 0.5, perspective: { distortion: 0.2, p: 0.5 } } : undefined,
      stages: dataStages(opts),
    });
    let chosen: FeatureBackendKind | undefined;
    try {
      if (opts.strict) await data.checkAll();
      await plan.execute(async (r) => {
        await initGpu();
        const seed = r.options.seed, bs = r.options.batchSize;
        // Each run imports its own copy, so runs of a grid never share trained weights.
        const net = transferModel(await importOnnxFile(weights), {
          classes: data.classes.length,
          hidden: [r.options.hidden],
          dropout: r.options.dropout,
          unfreezeLastBlock: r.options.unfreezeLastBlock,
          seed,
        });
        const model = new HeadOnFeatures(net);
        // The backend is measured once per machine and model (remembered in the user's cache
        // folder), or forced by --features; the rest of the grid reuses it.
        const backend = chosen
          ? await openFeatureBackend(chosen, net)
          : await chooseBackend(net, opts.features, weights, r.options);
        chosen = backend.kind;
        console.log(`${r.name}: frozen features on ${backend.kind}`);
        const shape = [...net.featureShape];
        let train = (epoch: number) =>
          data.train(epoch, bs).pipeThrough(toFeatures(backend, shape));
        let test = () => data.test(bs).pipeThrough(toFeatures(backend, shape));
        if (!augment && !r.options.unfreezeLastBlock && !dataStages(r.options)) {
          // Features depend on the decoding too: EXIF orientation on or off.
          const exif = opts.noExif ? "exif=off" : "exif=on";
          const modelHash = await hashModel(await frozenOnnx(net), net.inputSize, exif);
          const cache = {
            backend,
            dir: join(plan.out, ".features"),
            modelHash,
            itemShape: shape,
            log: (l: string) => console.log(l),
          };
          const tr = await cachedFeatures({
            ...cache,
            files: data.dataset.train,
            batches: () => data.test(bs, data.dataset.train),
          });
          const te = await cachedFeatures({
            ...cache,
            files: data.dataset.val,
            batches: () => data.test(bs),
          });
          train = (epoch) => featureBatches(tr.set, { batchSize: bs, seed, epoch });
          test = () => featureBatches(te.set, { batchSize: bs });
        }
        const optimizer = runOptimizer(
          net.namedParameters().filter(([, p]) => p.requiresGrad),
          r.options,
        );
        try {
          const history = await fit({
            ...r.fit,
            model,
            loss: nll,
            optimizer,
            train,
            test,
            stepsPerEpoch: Math.ceil(data.dataset.train.length / bs),
            classes: data.classes,
          });
          const file = join(r.dir, "model.onnx");
          await exportOnnx(net, file, {
            inputShape: [1, ...net.inputSize],
            classes: data.classes,
          });
          console.log(`${r.name}: exported ${file}`);
          return history;
        } finally {
          await backend.release();
          optimizer.dispose();
          net.dispose();
        }
      }, { summary: () => data.summary() });
    } finally {
      data.close();
    }
  },
});
