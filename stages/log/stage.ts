/**
 * Log stage: epoch records in, the same records out, and on the way every log of the run
 * written by its loggers (loggers.ts; by default a row of the grid's metrics.csv, scalars
 * in the run's TensorBoard event file (hyper-parameters first, as text and as
 * hparams-plugin summaries), summary.json and report.html, rewritten each epoch, so a run
 * stopped at any point leaves complete files). `loggers` replaces that set.
 *
 * The stage also takes the training loss every few steps (`stepLoss`) and the run's end
 * (`end`). A resumed run's event file supersedes the folder's earlier ones (supersede.ts),
 * so TensorBoard shows one run without replayed steps twice.
 */
import { basename } from "node:path";
import type { SessionStatus } from "./hparams_plugin.ts";
import { buildSummary } from "./summary.ts";
import { defaultLoggers, type Logger, STEP_LOSS_TAG } from "./loggers.ts";
import type { EpochMetrics, HValue } from "../evaluate.ts";

export { STEP_LOSS_TAG };
export type { Logger };

/** Options of the log stage. */
export interface LogOptions {
  /** The run's folder: event file, summary.json, report.html. */
  runDir: string;
  /** The grid's metrics.csv (shared by all runs). */
  csvPath: string;
  /** Class names by index. */
  classes: string[];
  /** Metric that picks the best epoch (default "TestAccuracy"). */
  by?: string;
  /** Epochs logged before a resume, so the summary and the report cover the whole run. */
  history?: EpochMetrics[];
  /** Embed sample images in the report from their paths (default true). */
  thumbnails?: boolean;
  /**
   * The run's hyper-parameters, to write them when the event file opens (so a run killed in
   * its first epoch is listed too); default: those of the first epoch record.
   */
  hparams?: Record<string, HValue>;
  /** The run's name, as its loggers are told at the start (default: the folder's name). */
  run?: string;
  /**
   * What writes the run's records (default `defaultLoggers()`: the event file, the CSV row,
   * summary.json and report.html); called in this order.
   */
  loggers?: Logger[];
}

/** The log stage: a stream of epoch records, plus the run's step losses and its end. */
export interface LogStage extends TransformStream<EpochMetrics, EpochMetrics> {
  /**
   * Writes the training loss as `Loss/train_step` at global step `step` (the x axis of the
   * epoch scalars is the epoch). Calls are queued in order with the epoch records.
   */
  stepLoss(step: number, loss: number, wallTime?: number): Promise<void>;
  /**
   * Marks the run as ended (default "success"): writes `_hparams_/session_end_info` and syncs.
   * Call it only when the run is complete (all epochs, or early stopping), before the stream
   * closes (closing alone writes no end: it also happens on an interruption). A run stopped
   * by a signal or killed has no end info, which TensorBoard shows as status unknown.
   */
  end(status?: SessionStatus, wallTime?: number): Promise<void>;
}

/** Stage: hand every epoch record to the run's loggers, then pass the record on. */
export function logStage(options: LogOptions): LogStage {
  const history = [...(options.history ?? [])];
  const loggers = options.loggers ?? defaultLoggers();
  let closed = false;
  let queue: Promise<unknown> = Promise.resolve();
  const serial = <T>(f: () => Promise<T>): Promise<T> => {
    const p = queue.then(f);
    queue = p.catch(() => {});
    return p;
  };
  const each = async (f: (l: Logger) => void | Promise<void>) => {
    for (const l of loggers) await f(l);
  };
  const started = serial(async () => {
    await Deno.mkdir(options.runDir, { recursive: true });
    await each((l) =>
      l.start?.({
        run: options.run ?? basename(options.runDir),
        runDir: options.runDir,
        csvPath: options.csvPath,
        classes: options.classes,
        by: options.by ?? "TestAccuracy",
        hparams: options.hparams,
        history: [...history],
        thumbnails: options.thumbnails ?? true,
      })
    );
  });
  started.catch(() => {}); // reported by the first call that waits for it
  const closedError = () => new Error(`log stage of ${options.runDir} is closed`);
  const stream = new TransformStream<EpochMetrics, EpochMetrics>({
    transform: (m, controller) =>
      serial(async () => {
        await started;
        if (closed) throw closedError();
        await Deno.mkdir(options.runDir, { recursive: true });
        history.push(m);
        const summary = buildSummary(history, options.classes, options.by);
        const seen = [...history];
        await each((l) => l.epoch?.({ metrics: m, history: seen, summary }));
        controller.enqueue(m);
      }),
    flush: () =>
      serial(async () => {
        closed = true;
        await started.catch(() => {});
        await each((l) => l.close?.());
      }),
  });
  return Object.assign(stream, {
    stepLoss: (step: number, loss: number, wallTime = Date.now() / 1000) =>
      serial(async () => {
        await started;
        await Deno.mkdir(options.runDir, { recursive: true });
        if (closed) throw closedError();
        await each((l) => l.step?.(step, loss, wallTime));
      }),
    end: (status: SessionStatus = "success", wallTime = Date.now() / 1000) =>
      serial(async () => {
        await started;
        if (closed) throw new Error(`log stage of ${options.runDir} is closed: end() comes first`);
        await each((l) => l.end?.(status, wallTime));
      }),
  });
}
