/**
 * metrics.csv: one row per run and epoch, in the columns practitioners already use, plus
 * any further hyper-parameters of a grid as extra columns. Appending is safe across the
 * runs of a grid and across resumed runs: a new column rewrites the file with the wider
 * header (old rows get empty cells), and a row for a (run, epoch) already present
 * replaces it. Rewrites go through a temporary file and a rename. Quoting is RFC 4180.
 *
 * A CSV that several processes write (a study's workers) is written under `withCsvLock`,
 * an exclusive lock on a hidden file beside it; `updateCsvRows` changes cells of the rows
 * already there (a trial's state once it ends).
 */
import { basename, dirname, join } from "node:path";
import { appendWhole, writeTextAtomic } from "../atomic.ts";
import type { EpochMetrics, HValue } from "../evaluate.ts";

/** The fixed leading columns, in order. */
export const BASE_COLUMNS: readonly string[] = [
  "run",
  "epoch",
  "TrainLoss",
  "TrainAccuracy",
  "TestLoss",
  "TestAccuracy",
  "lr",
  "batch_size",
  "weight_decay",
  "epoch_duration",
];

/** A cell value; null and undefined become empty cells. */
export type CsvValue = HValue | null | undefined;

/** A row by column name. */
export type CsvRow = Record<string, CsvValue>;

/** One field, quoted when it holds a comma, quote, line break or edge spaces. */
export function csvField(v: CsvValue): string {
  if (v === null || v === undefined) return "";
  const s = String(v);
  return /[",\r\n]|^\s|\s$/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

/**
 * A text cell made safe for spreadsheets: one starting with `=`, `+`, `-`, `@`, a tab or a
 * carriage return would be run as a formula by Excel, LibreOffice or Google Sheets (OWASP's
 * "CSV injection"), so it gets a leading `'`, which they show as text. Numbers are left as
 * they are. For files meant for spreadsheets only: readers of the raw CSV see the `'`.
 *
 * @example
 * spreadsheetSafe("=HYPERLINK(\"http://x\")"); // "'=HYPERLINK(\"http://x\")"
 * spreadsheetSafe(-1); // -1
 */
export function spreadsheetSafe(v: CsvValue): CsvValue {
  return typeof v === "string" && /^[=+\-@\t\r]/.test(v) ? `'${v}` : v;
}

/** One line (without the line break) from its fields. */
export function csvLine(values: CsvValue[]): string {
  return values.map(csvField).join(",");
}

/** Parses RFC 4180 text into records of fields (quoted fields may span lines). */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = "";
  let quoted = false;
  let i = 0;
  while (i < text.length) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i += 2;
          continue;
        }
        quoted = false;
      } else field += ch;
      i++;
      continue;
    }
    if (ch === '"') quoted = true;
    else if (ch === ",") {
      row.push(field);
      field = "";
    } else if (ch === "\n" || ch === "\r") {
      row.push(field);
      rows.push(row);
      row = [];
      field = "";
      if (ch === "\r" && text[i + 1] === "\n") i++;
    } else field += ch;
    i++;
  }
  if (field !== "" || row.length) {
    row.push(field);
    rows.push(row);
  }
  return rows;
}

/** Reads a CSV file with a header into rows by column name ([] when the file is missing). */
export async function readCsv(path: string): Promise<Record<string, string>[]> {
  const { header, rows } = await readTable(path);
  return rows.map((r) => Object.fromEntries(header.map((h, k) => [h, r[k] ?? ""])));
}

async function readTable(
  path: string,
): Promise<{ header: string[]; rows: string[][]; text: string }> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return { header: [], rows: [], text: "" };
    throw e;
  }
  const [header = [], ...rows] = parseCsv(text);
  return { header, rows, text };
}

/** The CSV row of one epoch: the base columns, then the other hyper-parameters. */
export function metricsRow(m: EpochMetrics): CsvRow {
  const row: CsvRow = {
    run: m.run,
    epoch: m.epoch,
    TrainLoss: m.train.loss,
    TrainAccuracy: m.train.accuracy,
    TestLoss: m.test.loss,
    TestAccuracy: m.test.accuracy,
    lr: m.lr,
    batch_size: m.hparams.batch_size ?? m.hparams.batchSize,
    weight_decay: m.hparams.weight_decay ?? m.hparams.weightDecay,
    epoch_duration: m.durationSec,
  };
  const skip = new Set(["lr", "batchSize", "weightDecay"]);
  for (const [k, v] of Object.entries(m.hparams)) {
    if (!(k in row) && !skip.has(k)) row[k] = v;
  }
  return row;
}

/**
 * Appends `row` to the CSV at `path` (created with a header when missing). New columns
 * widen the header; a row with the same `run` and `epoch` as an existing one replaces it.
 */
export async function appendCsvRow(path: string, row: CsvRow): Promise<void> {
  const { header: old, rows, text } = await readTable(path);
  const header = old.length ? [...old] : [...BASE_COLUMNS];
  for (const k of Object.keys(row)) if (!header.includes(k)) header.push(k);
  const runCol = header.indexOf("run"), epochCol = header.indexOf("epoch");
  const key = `${row.run ?? ""}\u0000${row.epoch ?? ""}`;
  const dup = rows.findIndex((r) => `${r[runCol] ?? ""}\u0000${r[epochCol] ?? ""}` === key);
  const line = csvLine(header.map((h) => row[h]));
  if (old.length && header.length === old.length && dup < 0) {
    const sep = text.endsWith("\n") ? "" : "\n";
    await appendWhole(path, new TextEncoder().encode(sep + line + "\n"));
    return;
  }
  const lines = [csvLine(header)];
  for (const [k, r] of rows.entries()) {
    if (k === dup) lines.push(line);
    else lines.push(csvLine(header.map((_, c) => r[c] ?? "")));
  }
  if (dup < 0) lines.push(line);
  await writeTextAtomic(path, lines.join("\n") + "\n");
}

/** Appends one epoch's row (see `appendCsvRow`). */
export function appendMetrics(path: string, m: EpochMetrics): Promise<void> {
  return appendCsvRow(path, metricsRow(m));
}

/** The lock file of a shared CSV: `.<name>.lock` beside it. */
export function csvLockPath(path: string): string {
  return join(dirname(path), `.${basename(path)}.lock`);
}

/**
 * Runs `f` holding an exclusive lock (flock) on the CSV's lock file, so writers in several
 * processes (or several in one) take turns; the lock goes with the process if it dies.
 */
export async function withCsvLock<T>(path: string, f: () => Promise<T>): Promise<T> {
  await Deno.mkdir(dirname(path), { recursive: true });
  const file = await Deno.open(csvLockPath(path), { create: true, write: true });
  try {
    await file.lock(true);
    return await f();
  } finally {
    file.close();
  }
}

/**
 * Sets the cells of `patch` (new columns widen the header) on every row whose `column`
 * holds `value`; returns how many rows changed. The file is rewritten atomically.
 */
export async function updateCsvRows(
  path: string,
  column: string,
  value: string,
  patch: CsvRow,
): Promise<number> {
  const { header: old, rows } = await readTable(path);
  if (!old.length) return 0;
  const header = [...old];
  for (const k of Object.keys(patch)) if (!header.includes(k)) header.push(k);
  const at = header.indexOf(column);
  let changed = 0;
  const lines = [csvLine(header)];
  for (const r of rows) {
    const cells: CsvValue[] = header.map((_, c) => r[c] ?? "");
    if (at >= 0 && cells[at] === value) {
      changed++;
      for (const [k, v] of Object.entries(patch)) cells[header.indexOf(k)] = v;
    }
    lines.push(csvLine(cells));
  }
  if (!changed) return 0;
  await writeTextAtomic(path, lines.join("\n") + "\n");
  return changed;
}
