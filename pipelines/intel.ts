/**
 * The Intel scene classifier: transfer learning from VGG16 (an ONNX file) with a new head,
 * Linear(features, 256) → ReLU → Dropout(0.3) → Linear(256, classes) → LogSoftmax, NLL loss,
 * Adam, augmentation with random perspective and flips, over the practitioner's grid
 * (lr 3e-4 and 3e-5 × batch 32 and 64 × weight decay 0).
 *
 * With no flags it runs on the embedded fixtures (the Intel layout in miniature) and a tiny
 * VGG-shaped ONNX model, so a new user sees the whole chain work in a couple of minutes:
 *   deno task pipeline intel.ts --data ~/intel --weights ~/vgg16-12.onnx
 *
 * The frozen convolutional part runs on the fastest correct backend found at start (the
 * engine's kernels or ONNX Runtime); with `--no-augment` its features are computed once
 * and cached on disk, keyed by the model's and the data's hashes.
 */
import { join } from "node:path";
import { initGpu } from "../core/gpu.ts";
import { LogSoftmax } from "../core/nn/activation.ts";
import { Module } from "../core/nn/module.ts";
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
} from "../onnx/features.ts";
import { importOnnxFile } from "../onnx/import.ts";
import { transferModel, type TransferNet } from "../onnx/transfer.ts";
import { definePipeline, UsageError } from "../pipeline.ts";
import { fit } from "../stages/fit.ts";
import { openImageData } from "../stages/image_data.ts";
import { checkTraining, runGrid, runOptimizer, trainingOptions } from "../stages/runs.ts";
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

const BACKENDS = ["auto", "engine", "ort-node", "ort-wasm", "ort-webgpu"];

export default definePipeline({
  name: "intel",
  description: "Intel scenes: transfer learning from VGG16 (ONNX) with a new head.",
  options: {
    ...trainingOptions({
      data: "fixtures/intel",
      weights: "fixtures/onnx/vgg/zoo.onnx",
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
    features: { type: "string", default: "auto", help: `frozen-part backend: ${BACKENDS}` },
  },
  async run(o) {
    checkTraining(o);
    if (!BACKENDS.includes(o.features as string)) {
      throw new UsageError(`--features must be one of ${BACKENDS.join(", ")}`);
    }
    if (o.grid === "none") o.grid = undefined;
    const augment = !(o.noAugment as boolean);
    await initGpu();
    const data = openImageData({
      root: o.data as string,
      seed: o.seed as number,
      strict: o.strict as boolean,
      augment: augment ? { hflip: 0.5, perspective: { distortion: 0.2, p: 0.5 } } : undefined,
    });
    // Fail before training on a missing, truncated or unsupported model; each run then
    // imports its own copy, so runs of a grid never share trained weights.
    const load = () =>
      importOnnxFile(o.weights as string).catch((e) => {
        throw new UsageError((e as Error).message);
      });
    (await load()).dispose();
    let chosen: FeatureBackendKind | undefined;
    try {
      await runGrid(
        o,
        ["lr", "batchSize", "weightDecay", "optimizer", "seed", "hidden", "dropout"],
        async (r) => {
          const seed = r.options.seed as number, bs = r.options.batchSize as number;
          const net = transferModel(await load(), {
            classes: data.classes.length,
            hidden: [r.options.hidden as number],
            dropout: r.options.dropout as number,
            unfreezeLastBlock: r.options.unfreezeLastBlock as boolean,
            seed,
          });
          const model = new HeadOnFeatures(net);
          // The backend is measured once (first run) and reused by the rest of the grid.
          const kind = chosen ?? (o.features as string);
          // The frozen part: its backend (measured once per run, logged), then its features.
          const backend = kind === "auto"
            ? (await selectFeatureBackend(net, { log: (l) => console.log(l) })).backend
            : await openFeatureBackend(kind as FeatureBackendKind, net);
          chosen = backend.kind;
          console.log(`${r.name}: frozen features on ${backend.kind}`);
          const shape = [...net.featureShape];
          let train = (epoch: number) =>
            data.train(epoch, bs).pipeThrough(toFeatures(backend, shape));
          let test = () => data.test(bs).pipeThrough(toFeatures(backend, shape));
          if (!augment && !(r.options.unfreezeLastBlock as boolean)) {
            const modelHash = await hashModel(await frozenOnnx(net), net.inputSize);
            const dir = join(o.out as string, ".features");
            const tr = await cachedFeatures({
              backend,
              files: data.dataset.train,
              batches: () => data.test(bs, data.dataset.train),
              dir,
              modelHash,
              itemShape: shape,
              log: (l) => console.log(l),
            });
            const te = await cachedFeatures({
              backend,
              files: data.dataset.val,
              batches: () => data.test(bs),
              dir,
              modelHash,
              itemShape: shape,
              log: (l) => console.log(l),
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
              run: r.name,
              runDir: r.dir,
              csvPath: r.csvPath,
              model,
              loss: nll,
              optimizer,
              train,
              test,
              stepsPerEpoch: Math.ceil(data.dataset.train.length / bs),
              classes: data.classes,
              epochs: r.options.epochs as number,
              hparams: r.hparams,
              resume: r.options.resume as string | undefined,
              grid: r.grid,
            });
            const file = join(r.dir, "model.onnx");
            await exportOnnx(net, file, {
              inputShape: [1, ...net.inputSize],
              classes: data.classes,
            });
            console.log(`${r.name}: exported ${file} (deno task predict ${r.dir} <images>)`);
            return history;
          } finally {
            await backend.release();
            optimizer.dispose();
            net.dispose();
          }
        },
      );
    } finally {
      data.close();
    }
  },
});
