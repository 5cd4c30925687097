/**
 * Log stage: epoch records in, the same records out, and on the way every log of the run
 * written: a row of the grid's metrics.csv, scalars in the run's TensorBoard event file
 * (hyper-parameters first, as text and as hparams-plugin summaries), summary.json and
 * report.html (rewritten each epoch, so a run stopped at any point leaves complete files).
 *
 * The stage also takes the training loss every few steps (`stepLoss`) and the run's end
 * (`end`). A resumed run's event file supersedes the folder's earlier ones (supersede.ts),
 * so TensorBoard shows one run without replayed steps twice.
 */
import { join } from "node:path";
import { appendMetrics } from "./csv.ts";
import { epochScalars, type EventWriter } from "./tfevents.ts";
import {
  SESSION_START_TAG,
  type SessionStatus,
  writeSessionEnd,
  writeSessionStart,
} from "./hparams_plugin.ts";
import { openRunEvents } from "./supersede.ts";
import { buildSummary, writeSummary } from "./summary.ts";
import { fileDataUrl, reportHistory, type ReportSample, writeReport } from "./report.ts";
import type { EpochMetrics, Evaluation, HValue } from "../evaluate.ts";

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
}

/** TensorBoard tag of the training loss written by `LogStage.stepLoss`, at the global step. */
export const STEP_LOSS_TAG = "Loss/train_step";

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

async function samples(m: EpochMetrics, thumbnails: boolean): Promise<ReportSample[]> {
  const list = (m.test as Partial<Evaluation>).samples ?? [];
  return await Promise.all(list.map(async (s) => ({
    label: s.label,
    pred: s.pred,
    prob: s.prob,
    path: s.path,
    image: thumbnails && s.path ? await fileDataUrl(s.path).catch(() => undefined) : undefined,
  })));
}

/** Stage: write every log of the run for each epoch record, then pass the record on. */
export function logStage(options: LogOptions): LogStage {
  const history = [...(options.history ?? [])];
  const lastEpoch = history.reduce((a, h) => Math.max(a, h.epoch), 0);
  let events: EventWriter | undefined;
  let written = new Set<string>();
  let lastLogged = lastEpoch;
  let ended = false, closed = false;
  let queue: Promise<unknown> = Promise.resolve();
  const serial = <T>(f: () => Promise<T>): Promise<T> => {
    const p = queue.then(f);
    queue = p.catch(() => {});
    return p;
  };
  /** Opens the event file at the first write; `stepCut`: the first global step written now. */
  const open = async (stepCut: number): Promise<EventWriter> => {
    if (closed) throw new Error(`log stage of ${options.runDir} is closed`);
    if (events) return events;
    const opened = await openRunEvents(options.runDir, {
      lastEpoch,
      stepCut,
      stepTags: new Set([STEP_LOSS_TAG]),
    });
    events = opened.writer;
    written = opened.carried;
    if (options.hparams) header(events, options.hparams, lastEpoch, Date.now() / 1000);
    return events;
  };
  /** The once-per-run summaries not yet in the file. */
  const header = (w: EventWriter, hp: Record<string, HValue>, step: number, wall: number) => {
    if (!written.has("hparams")) w.hparams(hp, step, wall);
    if (!written.has(SESSION_START_TAG)) writeSessionStart(w, hp, step, wall);
    written = new Set([...written, "hparams", SESSION_START_TAG]);
  };
  const stream = new TransformStream<EpochMetrics, EpochMetrics>({
    transform: (m, controller) =>
      serial(async () => {
        await Deno.mkdir(options.runDir, { recursive: true });
        const wall = m.wallTime ?? Date.now() / 1000;
        const w = await open(m.step + 1);
        // Written with the first epoch, dated at its start: the run's start.
        header(w, m.hparams, m.epoch - 1, wall - m.durationSec);
        history.push(m);
        lastLogged = m.epoch;
        const summary = buildSummary(history, options.classes, options.by);
        // The best epoch so far, by the same rule as best.ckpt, summary.json and the report.
        const scalars: Record<string, number> = {
          ...epochScalars(m, options.classes),
          "Best/epoch": summary.bestEpoch,
          "Best/TestAccuracy": summary.best.TestAccuracy,
        };
        w.scalars(scalars, m.epoch, wall);
        await w.flush();
        await appendMetrics(options.csvPath, m);
        await writeSummary(join(options.runDir, "summary.json"), summary);
        const best = history.find((h) => h.epoch === summary.bestEpoch)!;
        await writeReport(join(options.runDir, "report.html"), {
          run: m.run,
          classes: options.classes,
          history: reportHistory(history),
          confusion: summary.confusion,
          confusionEpoch: summary.bestEpoch,
          samples: await samples(best, options.thumbnails ?? true),
          hparams: m.hparams,
        });
        controller.enqueue(m);
      }),
    flush: () =>
      serial(async () => {
        closed = true;
        await events?.close();
      }),
  });
  return Object.assign(stream, {
    stepLoss: (step: number, loss: number, wallTime = Date.now() / 1000) =>
      serial(async () => {
        await Deno.mkdir(options.runDir, { recursive: true });
        (await open(step)).scalars({ [STEP_LOSS_TAG]: loss }, step, wallTime);
      }),
    end: (status: SessionStatus = "success", wallTime = Date.now() / 1000) =>
      serial(async () => {
        if (closed) throw new Error(`log stage of ${options.runDir} is closed: end() comes first`);
        if (!events || ended) return;
        ended = true;
        writeSessionEnd(events, lastLogged, wallTime, status);
        await events.flush();
      }),
  });
}
