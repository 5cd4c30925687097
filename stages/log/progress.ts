/**
 * The live progress line of an epoch: step, images/s, loss, and the time left in the
 * epoch and in the whole grid. `formatProgress` is pure; `ProgressWriter` redraws one line
 * with `\r` on a terminal and prints plain, throttled lines otherwise (logs, CI).
 */

/** Where training stands, as the progress line shows it. */
export interface ProgressState {
  /** Run name (shown when given). */
  run?: string;
  /** Epoch number, from 1. */
  epoch: number;
  /** Epochs in the run. */
  epochs: number;
  /** Steps done in this epoch. */
  step: number;
  /** Steps in the epoch (unknown: 0). */
  steps: number;
  /** Images processed in this epoch. */
  images: number;
  /** Seconds since the epoch started. */
  elapsedSec: number;
  /** Latest (or running mean) training loss, if read back. */
  loss?: number;
  /** Epochs of the grid finished before this one (all runs together). */
  gridEpochsDone?: number;
  /** Epochs in the whole grid (runs × epochs). */
  gridEpochs?: number;
  /** Mean seconds per finished epoch so far in the grid (default: this epoch's estimate). */
  meanEpochSec?: number;
}

/** Seconds as `1h02m`, `3m05s` or `12s`; `--` when unknown. */
export function formatDuration(sec: number): string {
  if (!Number.isFinite(sec) || sec < 0) return "--";
  const s = Math.round(sec);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, "0")}s`;
  const h = Math.floor(m / 60);
  return `${h}h${String(m % 60).padStart(2, "0")}m`;
}

/** Seconds left in the epoch and in the grid (NaN when not yet known). */
export function eta(p: ProgressState): { epochSec: number; gridSec: number } {
  const perStep = p.step > 0 ? p.elapsedSec / p.step : NaN;
  const epochSec = p.steps > 0 ? Math.max(0, p.steps - p.step) * perStep : NaN;
  const epochTotal = p.steps > 0 ? p.steps * perStep : NaN;
  const per = p.meanEpochSec ?? epochTotal;
  const after = p.gridEpochs === undefined
    ? Math.max(0, p.epochs - p.epoch)
    : Math.max(0, p.gridEpochs - (p.gridEpochsDone ?? 0) - 1);
  return { epochSec, gridSec: epochSec + after * per };
}

/** The progress line, e.g. `lr=0.001 epoch 2/10 step 120/438 412 img/s loss 0.4821 ETA 46s · grid 1h02m`. */
export function formatProgress(p: ProgressState): string {
  const parts: string[] = [];
  if (p.run) parts.push(p.run);
  parts.push(`epoch ${p.epoch}/${p.epochs}`);
  parts.push(`step ${p.step}${p.steps ? "/" + p.steps : ""}`);
  const rate = p.elapsedSec > 0 ? p.images / p.elapsedSec : NaN;
  parts.push(`${Number.isFinite(rate) ? rate.toFixed(rate < 10 ? 1 : 0) : "--"} img/s`);
  if (p.loss !== undefined) parts.push(`loss ${p.loss.toFixed(4)}`);
  const { epochSec, gridSec } = eta(p);
  const label = p.gridEpochs === undefined ? "run" : "grid";
  parts.push(`ETA ${formatDuration(epochSec)} · ${label} ${formatDuration(gridSec)}`);
  return parts.join("  ");
}

/** Something lines can be written to (stdout, stderr, or a test's buffer). */
export interface LineSink {
  /** Writes bytes synchronously. */
  writeSync(b: Uint8Array): number;
}

/** Options of a progress writer. */
export interface ProgressWriterOptions {
  /** Where to write (default `Deno.stderr`). */
  out?: LineSink;
  /** Redraw in place with `\r` (default: whether `out` is a terminal). */
  tty?: boolean;
  /** Minimum milliseconds between lines (default 100 on a terminal, 10 000 otherwise). */
  intervalMs?: number;
  /** Clock in milliseconds (for tests; default `performance.now`). */
  now?: () => number;
}

/** Writes progress lines: in place on a terminal, throttled plain lines elsewhere. */
export class ProgressWriter {
  #out: LineSink;
  #tty: boolean;
  #interval: number;
  #now: () => number;
  #last = -Infinity;
  #pending = false;

  /** Creates a writer (see `ProgressWriterOptions`). */
  constructor(opts: ProgressWriterOptions = {}) {
    this.#out = opts.out ?? Deno.stderr;
    this.#tty = opts.tty ?? (this.#out === Deno.stderr && Deno.stderr.isTerminal());
    this.#interval = opts.intervalMs ?? (this.#tty ? 100 : 10_000);
    this.#now = opts.now ?? (() => performance.now());
  }

  #write(s: string): void {
    const b = new TextEncoder().encode(s);
    let off = 0;
    while (off < b.length) off += this.#out.writeSync(b.subarray(off));
  }

  /** Shows `state` unless a line was shown less than the interval ago. */
  update(state: ProgressState): void {
    const t = this.#now();
    if (t - this.#last < this.#interval) return;
    this.#last = t;
    const line = formatProgress(state);
    this.#write(this.#tty ? `\r${line}\x1b[K` : `${line}\n`);
    this.#pending = this.#tty;
  }

  /** Ends the epoch's line with a final text (e.g. the epoch's metrics). */
  done(line: string): void {
    this.#write(this.#tty ? `\r${line}\x1b[K\n` : `${line}\n`);
    this.#pending = false;
    this.#last = -Infinity;
  }

  /** Prints a message on its own line without breaking the progress line. */
  log(line: string): void {
    this.#write(this.#pending ? `\r\x1b[K${line}\n` : `${line}\n`);
    this.#pending = false;
    this.#last = -Infinity;
  }
}
