/**
 * A run's data summary: how many images of each split were usable, and every file left
 * out, with the reason: unusable images found while decoding (named, with the decoder's
 * reason), files that are not an image file type (named), hidden entries such as
 * `.DS_Store` (counted).
 *
 * @module
 */
import { isAbsolute, relative } from "node:path";
import type { ImageDataset } from "./load.ts";
import type { DataReport, SkippedFile } from "./types.ts";

/** Options of `dataSummary`. */
export interface DataSummaryOptions {
  /** Most files named per list (default: all); the rest are counted. */
  limit?: number;
}

/**
 * A short multi-line text (no trailing newline) about the data a run used, for the end of
 * a run: usable images per split, unusable files skipped (named, with the reason, each
 * once however many epochs met it; in path order), non-image files (named) and hidden
 * entries (counted).
 * Paths are relative to the data folder. Unusable images are found while decoding, so call
 * it after the run's last epoch and evaluation; before any decoding it says so.
 *
 * @example
 * ```text
 * data: fixtures/intel (intel layout), 6 classes
 *   train: 28 usable of 31 images
 *   validation (test folder): 12 usable of 12 images
 *   skipped 3 unusable image(s):
 *     seg_train/seg_train/forest/empty.jpg: empty file (0 bytes)
 *   …
 *   1 file(s) not an image file type, not used:
 *     seg_train/seg_train/street/notes.txt
 *   2 hidden entries (names starting with "."), not used
 * ```
 */
export function dataSummary(
  dataset: ImageDataset,
  report: DataReport,
  options: DataSummaryOptions = {},
): string {
  const root = dataset.layout.root;
  const name = (p: string) => {
    const r = relative(root, p);
    return r && !r.startsWith("..") && !isAbsolute(r) ? r : p;
  };
  const skipped = new Map<string, string>();
  for (const s of report.skipped) if (!skipped.has(s.path)) skipped.set(s.path, s.reason);
  const count = (files: readonly { path: string }[]) => {
    const bad = files.filter((f) => skipped.has(f.path)).length;
    return `${files.length - bad} usable of ${files.length} image(s)`;
  };
  const classes = dataset.classes.length;
  const lines = [
    `data: ${root} (${dataset.layout.kind} layout), ${classes} class${classes === 1 ? "" : "es"}`,
  ];
  if (dataset.train.length) {
    lines.push(`  train: ${count(dataset.train)}`);
    const from = dataset.valFrom === "test-folder" ? "test folder" : "split from train";
    lines.push(`  validation (${from}): ${count(dataset.val)}`);
  }
  if (dataset.pred.length) lines.push(`  unlabelled: ${dataset.pred.length} image(s)`);
  if (report.decoded === 0 && report.skipped.length === 0) {
    lines.push("  (nothing decoded yet: unusable images are found while decoding)");
  }
  const list = (items: SkippedFile[], withReason: boolean) => {
    const limit = options.limit ?? Infinity;
    for (const s of items.slice(0, limit)) {
      lines.push(`    ${name(s.path)}${withReason ? `: ${s.reason}` : ""}`);
    }
    if (items.length > limit) lines.push(`    … and ${items.length - limit} more`);
  };
  if (skipped.size) {
    lines.push(`  skipped ${skipped.size} unusable image(s):`);
    const sorted = [...skipped].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    list(sorted.map(([path, reason]) => ({ path, reason })), true);
  } else if (report.decoded > 0) lines.push("  no unusable images");
  const other = dataset.ignored.filter((s) => !skipped.has(s.path));
  const byReason = new Map<string, SkippedFile[]>();
  for (const s of other) {
    const group = byReason.get(s.reason);
    if (group) group.push(s);
    else byReason.set(s.reason, [s]);
  }
  for (const [reason, items] of byReason) {
    lines.push(`  ${items.length} file(s) ${reason}, not used:`);
    list(items, false);
  }
  if (dataset.hidden) {
    const what = dataset.hidden === 1 ? "entry" : "entries";
    lines.push(`  ${dataset.hidden} hidden ${what} (names starting with "."), not used`);
  }
  return lines.join("\n");
}
