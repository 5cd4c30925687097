/**
 * The usual chain for one epoch of an image data set, composed from the stages:
 * shuffled file list → decode → resize → normalize → augment (all four in the decode
 * workers, so both cores share them) → batch.
 */
import type { AugmentOptions } from "./augment.ts";
import { batch } from "./batch.ts";
import { decode } from "./decode.ts";
import { fileSource } from "./load.ts";
import type { NormalizeOptions } from "./normalize.ts";
import type { DataReport, FileEntry, SkippedFile } from "./types.ts";
import type { DecodePool } from "./workers/prefetch.ts";
import type { Batch } from "./types.ts";

/** Options for `imageBatches`. */
export interface ImageBatchOptions {
  /** Seed for shuffling and augmentation; no shuffle when undefined. */
  seed?: number;
  /** Epoch index: picks that epoch's shuffle and augmentation draws (default 0). */
  epoch?: number;
  /** Images per batch. */
  batchSize: number;
  /** Drop the last batch when it is not full (default false). */
  dropLast?: boolean;
  /** Output size (default 150×150). */
  width?: number;
  /** Output height in pixels (default 150). */
  height?: number;
  /** Channels, mean and std of the normalization (default: 3 channels, ImageNet's). */
  normalize?: NormalizeOptions;
  /** Apply EXIF orientations (default true); false for torchvision's `ImageFolder` pixels. */
  exif?: boolean;
  /** Augmentations (seed and epoch are filled in); none when undefined. */
  augment?: Omit<AugmentOptions, "seed" | "epoch">;
  /** Decode workers when no `pool` is given (default: 2, or 1 on a 1-core machine). */
  workers?: number;
  /** Most files in flight at once (default: 4 per worker, at least 2). */
  prefetch?: number;
  /** A decode pool to share across epochs (left open; overrides `workers`). */
  pool?: DecodePool;
  /** Fail the stream on an unusable file instead of skipping it (default false). */
  strict?: boolean;
  /** Counts decoded and skipped files. */
  report?: DataReport;
  /** Called for each skipped file (default: `console.warn` naming it). */
  onSkip?: (s: SkippedFile) => void;
}

/** Stream one epoch of NCHW batches from a list of files. */
export function imageBatches(
  files: readonly FileEntry[],
  o: ImageBatchOptions,
): ReadableStream<Batch> {
  const width = o.width ?? 150;
  const height = o.height ?? 150;
  const epoch = o.epoch ?? 0;
  // All per-sample work runs in the decode workers; the stages after it pass samples through.
  const s = fileSource(files, { seed: o.seed, epoch })
    .pipeThrough(decode({
      workers: o.workers,
      prefetch: o.prefetch,
      pool: o.pool,
      strict: o.strict,
      report: o.report,
      onSkip: o.onSkip,
      resize: { width, height },
      exif: o.exif,
      normalize: o.normalize ?? {},
      augment: o.augment ? { ...o.augment, seed: o.seed ?? 0, epoch } : undefined,
    }));
  return s.pipeThrough(batch({ size: o.batchSize, dropLast: o.dropLast }));
}
