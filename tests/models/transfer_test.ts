/**
 * Transfer learning from the VGG fixtures (fixtures/onnx/vgg) on the Intel fixture images
 * at 150×150: the new head trains (the loss falls) while the frozen weights stay
 * bit-identical; the "torchvision" head (adaptive pool 4×4 → 7×7 and the original
 * classifier) with the last block unfrozen; and the on-disk feature cache.
 */
import { assert, assertEquals } from "../assert.ts";
import { backward, noGrad } from "../../core/autograd.ts";
import { initGpu } from "../../core/gpu.ts";
import { crossEntropy } from "../../core/ops/loss.ts";
import { fromArray, type Tensor, tidy } from "../../core/tensor.ts";
import { Optimizer } from "../../plugins/optimizers/chain.ts";
import { adam } from "../../plugins/optimizers/adam.ts";
import { imageBatches } from "../../stages/images.ts";
import { openImageDataset } from "../../stages/load.ts";
import type { Batch } from "../../stages/types.ts";
import { importOnnxFile } from "../../onnx/import.ts";
import { transferModel, type TransferNet } from "../../models/transfer.ts";
import {
  cachedFeatures,
  featureBatches,
  hashFiles,
  hashModel,
  openFeatureBackend,
  relativeError,
} from "../../training/features.ts";
import { tempDir } from "../_temp.ts";

const VGG = new URL("../../fixtures/onnx/vgg/", import.meta.url).pathname;
const INTEL = new URL("../../fixtures/intel", import.meta.url).pathname;
const ds = openImageDataset(INTEL);

async function collect(s: ReadableStream<Batch>): Promise<Batch[]> {
  const out: Batch[] = [];
  for await (const b of s) out.push(b);
  return out;
}

/**
 * The fixtures' first set (1.jpg … 46.jpg and the awkward files: 34 usable training images,
 * drawn first by fixtures/make_intel.py): few enough for a head on the random-weight VGG's
 * features to fit them, which is what the loss test measures.
 */
const firstSet = (f: { path: string }) => Number(/\/(\d+)\.jpg$/.exec(f.path)?.[1] ?? 0) <= 46;

let cached: Batch[] | null = null;
async function trainBatches(): Promise<Batch[]> {
  cached ??= await collect(
    imageBatches(ds.train.filter(firstSet), { batchSize: 12, workers: 1, onSkip: () => {} }),
  );
  return cached;
}

async function snapshot(ps: [string, Tensor][]): Promise<Map<string, Uint8Array>> {
  const m = new Map<string, Uint8Array>();
  for (const [n, t] of ps) m.set(n, new Uint8Array((await t.data()).buffer));
  return m;
}

function sameBits(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/**
 * One epoch over `batches` (images through the whole model, or frozen features through
 * the head); returns the mean loss (read back once per step: this is a test).
 */
async function epoch(
  model: TransferNet,
  opt: Optimizer,
  batches: { x: Tensor; y: Tensor }[],
  head = false,
): Promise<number> {
  let sum = 0;
  for (const b of batches) {
    const loss = tidy(() => {
      const l = crossEntropy(head ? model.forwardHead(b.x) : model.forward(b.x), b.y);
      backward(l);
      opt.step();
      opt.zeroGrad();
      return l;
    });
    sum += await loss.item();
    loss.dispose();
  }
  return sum / batches.length;
}

function onGpu(batches: Batch[]): { x: Tensor; y: Tensor }[] {
  return batches.map((b) => ({
    x: fromArray(b.x, b.shape).keep(),
    y: fromArray(Float32Array.from(b.labels), [b.labels.length]).keep(),
  }));
}

Deno.test("transfer (zoo VGG, flatten head): loss falls, frozen weights bit-identical", async () => {
  await initGpu();
  const batches = await trainBatches();
  const model = transferModel(await importOnnxFile(`${VGG}zoo.onnx`), {
    classes: ds.classes.length,
    hidden: [32],
    dropout: 0.2,
  });
  assertEquals(model.featureShape, [32, 4, 4]); // 150 → 75 → 37 → 18 → 9 → 4
  const trainable = model.trainableParameters().map(([n]) => n);
  assertEquals(trainable, [
    "classifier.0.weight",
    "classifier.0.bias",
    "classifier.3.weight",
    "classifier.3.bias",
  ]);
  const frozen = model.frozenParameters();
  assertEquals(frozen.length, 26);
  const before = await snapshot(frozen);
  const opt = new Optimizer(model.trainableParameters(), [adam()], { lr: 3e-3 });
  const images = onGpu(batches);
  // One epoch end to end (images → frozen part → head, backward through the head) …
  const losses = [await epoch(model, opt, images)];
  // … then the usual fast path: frozen features once, the head trained on them.
  const feats = images.map((b) => ({ x: tidy(() => model.forwardFrozen(b.x)).keep(), y: b.y }));
  for (let e = 0; e < 40; e++) losses.push(await epoch(model, opt, feats, true));
  console.log(`losses: ${losses.filter((_, k) => k % 8 === 0).map((l) => l.toFixed(3)).join(" ")}`);
  const tail = losses.slice(-3).reduce((a, b) => a + b) / 3;
  assert(tail < 0.5 * losses[0], `loss did not fall: ${losses}`);
  for (const b of [...images, ...feats]) [b.x, b.y].forEach((t) => t.dispose());
  const after = await snapshot(frozen);
  for (const [n, b] of before) assert(sameBits(b, after.get(n)!), `${n} changed`);
  opt.dispose();
  model.dispose();
});

Deno.test("transfer (torchvision VGG): adaptive 4×4 → 7×7, original classifier, last block unfrozen", async () => {
  await initGpu();
  const batches = (await trainBatches()).slice(0, 1);
  const model = transferModel(await importOnnxFile(`${VGG}torchvision.onnx`), {
    classes: 6,
    head: "torchvision",
    unfreezeLastBlock: true,
  });
  assertEquals(model.trainableParameters().map(([n]) => n), [
    "features.24.weight",
    "features.24.bias",
    "features.26.weight",
    "features.26.bias",
    "features.28.weight",
    "features.28.bias",
    "classifier.6.weight",
    "classifier.6.bias",
  ]);
  assertEquals(model.featureShape, [32, 9, 9]); // the frozen part ends after features.23
  const frozen = model.frozenParameters();
  assert(frozen.some(([n]) => n === "classifier.0.weight"), "the original fc layers load");
  const before = await snapshot(frozen);
  const w24 = await snapshot(model.trainableParameters().slice(0, 1));
  const opt = new Optimizer(model.trainableParameters(), [adam()], { lr: 1e-3 });
  const images = onGpu(batches);
  await epoch(model, opt, images);
  for (const b of images) [b.x, b.y].forEach((t) => t.dispose());
  const after = await snapshot(frozen);
  for (const [n, b] of before) assert(sameBits(b, after.get(n)!), `${n} changed`);
  const w24b = await snapshot(model.trainableParameters().slice(0, 1));
  assert(
    !sameBits(w24.get("features.24.weight")!, w24b.get("features.24.weight")!),
    "features.24 trains",
  );
  opt.dispose();
  model.dispose();
});

Deno.test("feature cache: computed once, then read back; head on cached features = full forward", async () => {
  await initGpu();
  const dir = await tempDir();
  const model = transferModel(await importOnnxFile(`${VGG}zoo.onnx`), { classes: 6, hidden: [16] });
  model.eval();
  const files = ds.val;
  const batches = () => imageBatches(files, { batchSize: 8, workers: 1, onSkip: () => {} });
  const backend = await openFeatureBackend("engine", model);
  const modelHash = await hashModel(new Uint8Array([1, 2, 3]), model.inputSize);
  const dataHash = await hashFiles(files);
  const opts = { backend, files, batches, dir, modelHash, dataHash, itemShape: model.featureShape };
  const first = await cachedFeatures(opts);
  const second = await cachedFeatures(opts);
  assert(!first.hit && second.hit, "second call reads the cache");
  assertEquals(second.set.paths, first.set.paths);
  assert(sameBits(new Uint8Array(first.set.x.buffer), new Uint8Array(second.set.x.buffer)));
  // The head on cached features gives what the whole model gives on the images.
  const [fb] = await collect(featureBatches(second.set, { batchSize: 8 }));
  const [ib] = await collect(batches());
  const a = noGrad(() => tidy(() => model.forwardHead(fromArray(fb.x, fb.shape))));
  const b = noGrad(() => tidy(() => model.forward(fromArray(ib.x, ib.shape))));
  const e = relativeError(await a.data(), await b.data());
  assert(e < 1e-5, `cached vs full: ${e}`);
  a.dispose();
  b.dispose();
  model.dispose();
  await Deno.remove(dir, { recursive: true });
});
