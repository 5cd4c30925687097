/**
 * `deno task data <dir> [--strict] [--workers N]`: prints what a pipeline would see —
 * the layout recognised, classes with counts per split, an image-size histogram and every
 * file it could not use, with the reason. Exit code 0 when there are usable images
 * (and, under --strict, no unusable ones); 1 otherwise; 2 for bad arguments or a data
 * folder that cannot be used (one line, then the usage line for arguments).
 */
import { relative } from "node:path";
import { intFlag, oneLine, parseFlags, UsageError } from "./training/cli_args.ts";
import { decode } from "./stages/decode.ts";
import { fileSource, type ImageDataset, openImageDataset } from "./stages/load.ts";
import { DataError, type FileEntry, newReport, type SkippedFile } from "./stages/types.ts";

/** What scanning a data set found. */
export interface ScanResult {
  dataset: ImageDataset;
  /** Usable images per split and class: counts[split][label]. */
  usable: Record<string, number[]>;
  sizes: Map<string, number>;
  skipped: SkippedFile[];
  total: number;
}

/** Decode every file of a data set (in workers) and tally what is usable. */
export async function scanDataset(
  dir: string,
  options: { workers?: number } = {},
): Promise<ScanResult> {
  const dataset = openImageDataset(dir);
  const splits: [string, FileEntry[]][] = [
    ["train", dataset.train],
    [dataset.valFrom === "test-folder" ? "test" : "val", dataset.val],
    ["pred", dataset.pred],
  ];
  const usable: Record<string, number[]> = {};
  const sizes = new Map<string, number>();
  const report = newReport();
  let total = 0;
  for (const [name, files] of splits) {
    if (files.length === 0) continue;
    const counts = usable[name] = new Array(Math.max(1, dataset.classes.length)).fill(0);
    total += files.length;
    const samples = fileSource(files).pipeThrough(
      decode({ workers: options.workers, report, onSkip: () => {} }),
    );
    for await (const s of samples) {
      counts[Math.max(0, s.label)]++;
      const key = `${s.image.width}×${s.image.height}`;
      sizes.set(key, (sizes.get(key) ?? 0) + 1);
    }
  }
  return { dataset, usable, sizes, skipped: [...dataset.ignored, ...report.skipped], total };
}

function pad(s: string | number, n: number, right = false): string {
  const t = String(s);
  return right ? t.padStart(n) : t.padEnd(n);
}

/** Print a scan as the data task's summary; returns the exit code. */
export function printScan(scan: ScanResult, strict = false): number {
  const { dataset, usable } = scan;
  const rel = (p?: string) => (p ? relative(dataset.layout.root, p) || "." : "-");
  console.log(`Data folder: ${dataset.layout.root}`);
  console.log(`Layout: ${dataset.layout.kind}`);
  for (const k of ["train", "test", "pred"] as const) {
    if (dataset.layout[k]) console.log(`  ${pad(k + ":", 7)}${rel(dataset.layout[k])}`);
  }
  if (dataset.valFrom === "split" && dataset.classes.length) {
    console.log("  validation: stratified 80/20 split of train (seed 0)");
  }
  const labelled = Object.keys(usable).filter((k) => k !== "pred");
  let bad = 0;
  if (dataset.classes.length) {
    const w = Math.max(5, ...dataset.classes.map((c) => c.length)) + 2;
    console.log(`\nClasses (${dataset.classes.length}), usable images:`);
    console.log(`  ${pad("class", w)}${labelled.map((k) => pad(k, 8, true)).join("")}`);
    dataset.classes.forEach((c, i) => {
      const row = labelled.map((k) => usable[k][i]);
      if (row[0] === 0) bad++;
      console.log(`  ${pad(c, w)}${row.map((n) => pad(n, 8, true)).join("")}`);
    });
    const totals = labelled.map((k) => usable[k].reduce((a, b) => a + b, 0));
    console.log(`  ${pad("total", w)}${totals.map((n) => pad(n, 8, true)).join("")}`);
  }
  if (usable.pred) console.log(`\nUnlabelled (pred): ${usable.pred[0]} usable`);
  console.log("\nImage sizes (width×height):");
  for (const [k, n] of [...scan.sizes].sort((a, b) => b[1] - a[1])) {
    console.log(`  ${pad(k, 12)}${pad(n, 7, true)}${k === "150×150" ? "" : "  (resized)"}`);
  }
  console.log(`\nUnusable files (${scan.skipped.length}):`);
  if (scan.skipped.length === 0) console.log("  none");
  for (const s of scan.skipped) console.log(`  ${rel(s.path)}: ${s.reason}`);
  const nUsable = [...scan.sizes.values()].reduce((a, b) => a + b, 0);
  console.log(`\nUsable images: ${nUsable} of ${scan.total} listed`);
  if (bad) {
    console.log(`error: ${bad} class folder(s) have no usable training images`);
    return 1;
  }
  if (nUsable === 0) {
    console.log("error: no usable images");
    return 1;
  }
  if (strict && scan.skipped.length) {
    console.log("error: unusable files found (--strict)");
    return 1;
  }
  return 0;
}

const USAGE = "usage: deno task data <dir> [--strict] [--workers N]";

/** What the data command was asked to do (see `parseDataArgs`). */
export interface DataArgs {
  help: boolean;
  dir: string;
  strict: boolean;
  workers?: number;
}

/** Checks the data command's arguments; throws a UsageError (one line) for bad ones. */
export function parseDataArgs(args: readonly string[]): DataArgs {
  const { values, positionals } = parseFlags(args, {
    strict: { type: "boolean" },
    workers: { type: "string" },
    help: { type: "boolean", short: "h" },
  });
  if (values.help) return { help: true, dir: "", strict: false };
  if (positionals.length === 0) throw new UsageError("missing the data folder");
  if (positionals.length > 1) {
    throw new UsageError(`expected one data folder, got ${positionals.length}`);
  }
  const dir = positionals[0];
  let info: Deno.FileInfo;
  try {
    info = Deno.statSync(dir);
  } catch {
    throw new UsageError(`data folder not found: ${dir}`);
  }
  if (!info.isDirectory) throw new UsageError(`not a folder: ${dir}`);
  const workers = values.workers === undefined
    ? undefined
    : intFlag("--workers", values.workers as string, 0);
  return { help: false, dir, strict: values.strict === true, workers };
}

/** Runs the data command on `args`; returns the exit code (2 for bad input). */
export async function main(args: readonly string[]): Promise<number> {
  let a: DataArgs;
  try {
    a = parseDataArgs(args);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    console.error(`data: ${e.message}`);
    console.error(USAGE);
    return 2;
  }
  if (a.help) {
    console.log(USAGE);
    return 0;
  }
  try {
    const scan = await scanDataset(a.dir, { workers: a.workers });
    return printScan(scan, a.strict);
  } catch (e) {
    console.error(`data: ${oneLine(e)}`);
    return e instanceof DataError ? 2 : 1;
  }
}

if (import.meta.main) {
  try {
    Deno.exit(await main(Deno.args));
  } catch (e) {
    console.error(`data: ${oneLine(e)}`);
    Deno.exit(1);
  }
}
