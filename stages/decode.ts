/**
 * Decode stage: file entries in, decoded samples out, in order. Decoding runs in Web Workers
 * with bounded prefetch; a bad file is skipped with a warning naming it and counted in the
 * report, or fails the stream under `strict`. No bad file stops an epoch half-way.
 *
 * The workers can also do the rest of the per-sample work (resize, normalize, augment) so
 * that two cores share all of it; the results equal those of the separate stages.
 */
import { type AugmentOptions, augmentRng } from "./augment.ts";
import type { NormalizeOptions } from "./normalize.ts";
import { processFile } from "./process.ts";
import type { DataReport, FileEntry, FloatImage, RawImage, Sample, SkippedFile } from "./types.ts";
import { DecodePool, prefetchMap, type SampleWork } from "./workers/prefetch.ts";

/** Options for the decode stage. */
export interface DecodeOptions {
  /** Worker count; 0 decodes on the calling thread (default: 2, or 1 on a 1-core machine). */
  workers?: number;
  /** Most files in flight at once (default: 4 per worker, at least 2). */
  prefetch?: number;
  /** Resize in the worker too (as the resize stage would). */
  resize?: { width: number; height: number; keepAlpha?: boolean };
  /**
   * Apply each file's EXIF orientation after decoding, as Pillow's `exif_transpose` does
   * (default true); false keeps the pixels as stored, as torchvision's `ImageFolder` does.
   */
  exif?: boolean;
  /** Normalize in the worker too (as the normalize stage would). */
  normalize?: NormalizeOptions;
  /** Augment in the worker too (as the augment stage would, same seed → same images). */
  augment?: AugmentOptions;
  /** Make a bad file fatal instead of skipping it. */
  strict?: boolean;
  /** Counts decoded and skipped files. */
  report?: DataReport;
  /** Called for each skipped file (default: `console.warn` naming it). */
  onSkip?: (skipped: SkippedFile) => void;
  /** Reuse a pool across epochs (the stage then leaves it open). */
  pool?: DecodePool;
}

/** The default number of decode workers on this machine. */
export function defaultWorkers(): number {
  return Math.max(1, Math.min(2, navigator.hardwareConcurrency ?? 1));
}

/** Stage: decode files to samples (see the module comment). */
export function decode(options: DecodeOptions = {}): TransformStream<FileEntry, Sample> {
  const nWorkers = options.pool ? options.pool.size : options.workers ?? defaultWorkers();
  const pool = options.pool ?? (nWorkers > 0 ? new DecodePool(nWorkers) : undefined);
  const ownsPool = !options.pool && pool !== undefined;
  const depth = options.prefetch ?? Math.max(2, 4 * Math.max(1, nWorkers));
  let augment: SampleWork["augment"];
  if (options.augment) {
    const { rng: _rng, ...rest } = options.augment;
    augment = rest;
  }
  const work: SampleWork = {
    size: options.resize,
    normalize: options.normalize,
    augment,
    exif: options.exif,
  };
  if (augment && !work.normalize) work.normalize = {};
  const rng = options.augment ? augmentRng(options.augment) : null;
  const job = (f: FileEntry) => {
    const seed = rng ? rng.nextU32() : 0; // drawn in stream order
    return pool ? pool.decode(f.path, work, seed) : processFile(f.path, work, seed);
  };
  const close = () => {
    if (ownsPool) pool!.close();
  };
  const onSkip = options.onSkip ??
    ((s: SkippedFile) => console.warn(`warning: skipped ${s.path}: ${s.reason}`));
  return prefetchMap<FileEntry, RawImage | FloatImage, Sample>(job, depth, (entry, out, ctl) => {
    if (out.ok) {
      if (options.report) options.report.decoded++;
      ctl.enqueue({ image: out.value, label: entry.label, path: entry.path });
      return;
    }
    const skipped = { path: entry.path, reason: out.error };
    options.report?.skipped.push(skipped);
    if (options.strict) throw new Error(`${entry.path}: ${out.error} (strict mode)`);
    onSkip(skipped);
  }, close);
}
