/**
 * An image-folder data set ready for `fit`: the files (Intel layout or any image folder),
 * one pool of decode workers shared by every epoch, and per-epoch batch streams (training
 * shuffled and augmented from the seed and the epoch; evaluation in file order).
 * `summary()` gives the run's data summary (`data_summary.ts`).
 *
 * Named insertion points (`stages`): after decode (each sample, resized and normalized,
 * before augmentation; every stream), after augment (each augmented training sample) and
 * after batch (each batch; every stream). Without a decode-point stage the augmentation
 * runs in the decode workers as before; with one, it runs after that stage, on this
 * thread, from the same seed (the same images, as long as no file of the epoch is skipped).
 */
import { DataError } from "./types.ts";
import type { AugmentOptions } from "./augment.ts";
import { augment as augmentStage } from "./augment.ts";
import { batch } from "./batch.ts";
import { imageBatches } from "./images.ts";
import { decode } from "./decode.ts";
import { dataSummary } from "./data_summary.ts";
import { fileSource, type ImageDataset, openImageDataset } from "./load.ts";
import type { NormalizeOptions } from "./normalize.ts";
import { type Batch, type DataReport, type FileEntry, newReport, type Sample } from "./types.ts";
import { DecodePool } from "./workers/prefetch.ts";

export { dataSummary };

/** Makes one stage of an insertion point (called once per stream: stages are not reused). */
export type StageMaker<T> = () => TransformStream<T, T>;

/** Stages to insert at the data chain's named points, in order at each point. */
export interface DataStages {
  /** After decoding (samples resized and normalized, not augmented): every stream. */
  decode?: StageMaker<Sample>[];
  /** After the training augmentations: the training stream only. */
  augment?: StageMaker<Sample>[];
  /** After batching: every stream (training and test). */
  batch?: StageMaker<Batch>[];
}

/** Pipes `s` through a fresh stage of each maker, in order. */
export function through<T>(s: ReadableStream<T>, makers: StageMaker<T>[] = []): ReadableStream<T> {
  return makers.reduce((acc, make) => acc.pipeThrough(make()), s);
}

/** Options of `openImageData`. */
export interface ImageDataOptions {
  /** The data folder (Intel layout, train/test folders or one folder per class). */
  root: string;
  /** Side of the square images the batches hold, in pixels (default 150). */
  size?: number;
  /** Channels, mean and std of the normalization (default: 3 channels, ImageNet's mean and std). */
  normalize?: NormalizeOptions;
  /** Training augmentations (seeded from `seed` and the epoch); none when undefined. */
  augment?: Omit<AugmentOptions, "seed" | "epoch">;
  /** Fail a stream on the first unusable file instead of skipping it (default false). */
  strict?: boolean;
  /** Seed of the validation split, the per-epoch shuffle and the augmentations. */
  seed: number;
  /** Decode workers shared by every stream (default 2). */
  workers?: number;
  /**
   * Apply each image's EXIF orientation, as Pillow's `exif_transpose` does (default true);
   * false keeps the pixels as stored, as torchvision's `ImageFolder` does (`--no-exif`).
   */
  exif?: boolean;
  /** Stages inserted at the named points (see the module comment). */
  stages?: DataStages;
}

/** An opened data set with its batch streams. */
export interface ImageData {
  /** The files found: layout, classes, training, test (`val`) and unlabelled lists. */
  dataset: ImageDataset;
  /** Class names in label order (sorted folder names). */
  classes: string[];
  /** Decoded and skipped counts of every stream so far (shared by all of them). */
  report: DataReport;
  /** One epoch's training batches: shuffled and augmented from the seed and `epoch`. */
  train(epoch: number, batchSize: number): ReadableStream<Batch>;
  /** Batches of `files` (default: the test split) in order, without augmentation. */
  test(batchSize: number, files?: readonly FileEntry[]): ReadableStream<Batch>;
  /**
   * Decodes every training and test file once and fails (DataError, exit 2) naming the
   * unusable ones: what `--strict` runs before any GPU work.
   */
  checkAll(): Promise<void>;
  /**
   * The data summary so far (see `dataSummary`): usable images per split and every file
   * left out, with the reason. Call it after the run's last epoch and evaluation.
   */
  summary(): string;
  /** Stops the shared decode workers (call it once the run is done with every stream). */
  close(): void;
}

/** Opens a data folder (fails before training, naming the folder, when unusable). */
export function openImageData(o: ImageDataOptions): ImageData {
  const dataset = openImageDataset(o.root, { seed: o.seed });
  if (!dataset.train.length) throw new DataError(`${o.root} has no labelled training images`);
  if (dataset.classes.length < 2) {
    throw new DataError(
      `${o.root} has ${dataset.classes.length} class folder(s) (${dataset.classes.join(", ")}); ` +
        `a classifier needs at least 2`,
    );
  }
  if (!dataset.val.length) {
    throw new DataError(
      `${o.root} has no test split and too few images per class to hold out a validation set`,
    );
  }
  const pool = new DecodePool(o.workers ?? 2);
  const report = newReport();
  const warned = new Set<string>();
  const common = {
    width: o.size ?? 150,
    height: o.size ?? 150,
    normalize: o.normalize,
    exif: o.exif,
    strict: o.strict,
    pool,
    report,
    onSkip: (s: { path: string; reason: string }) => {
      if (!warned.has(s.path)) console.warn(`skipped ${s.path}: ${s.reason}`);
      warned.add(s.path);
    },
  };
  const st = o.stages ?? {};
  /** The chain with insertion points: decode → [decode] → augment → [augment] → batch → [batch]. */
  const staged = (files: readonly FileEntry[], batchSize: number, epoch?: number) => {
    const aug = epoch !== undefined && o.augment
      ? { ...o.augment, seed: o.seed, epoch }
      : undefined;
    const early = !st.decode?.length; // no decode-point stage: augment in the workers
    let s: ReadableStream<Sample> = fileSource(files, {
      seed: epoch === undefined ? undefined : o.seed,
      epoch,
    })
      .pipeThrough(decode({
        pool,
        strict: o.strict,
        report,
        onSkip: common.onSkip,
        resize: { width: common.width, height: common.height },
        exif: o.exif,
        normalize: o.normalize ?? {},
        augment: early ? aug : undefined,
      }));
    s = through(s, st.decode);
    if (aug && !early) s = s.pipeThrough(augmentStage(aug));
    if (epoch !== undefined) s = through(s, st.augment);
    return through(s.pipeThrough(batch({ size: batchSize })), st.batch);
  };
  const plain = !st.decode?.length && !st.augment?.length && !st.batch?.length;
  return {
    dataset,
    classes: dataset.classes,
    report,
    train: (epoch, batchSize) =>
      plain
        ? imageBatches(dataset.train, {
          ...common,
          seed: o.seed,
          epoch,
          batchSize,
          augment: o.augment,
        })
        : staged(dataset.train, batchSize, epoch),
    test: (batchSize, files = dataset.val) =>
      plain ? imageBatches(files, { ...common, batchSize }) : staged(files, batchSize),
    async checkAll() {
      const seen = newReport();
      const files = [...dataset.train, ...dataset.val];
      // The orientation never makes a file unusable, so the check skips applying it.
      const check = decode({ pool, report: seen, exif: false, onSkip: () => {} });
      const all = fileSource(files).pipeThrough(check);
      for await (const _ of all) { /* decoding is the check */ }
      const bad = [...dataset.ignored, ...seen.skipped];
      if (bad.length) {
        const list = bad.slice(0, 3).map((b) => `${b.path} (${b.reason})`).join("; ");
        throw new DataError(
          `--strict: ${bad.length} unusable file(s) in ${o.root}: ${list}` +
            (bad.length > 3 ? "; …" : "") + " (deno task data lists them all)",
        );
      }
    },
    summary: () => dataSummary(dataset, report),
    close: () => pool.close(),
  };
}
