/**
 * Loggers: what the log stage (stage.ts) writes a run's records with. A logger is told the
 * run's start, each epoch (with the history so far and its summary), the training loss
 * every few steps, the run's end (only when it completed) and the stage's close (also on an
 * interruption). Each is a plugin of kind "logger" (plugins/loggers/index.ts registers the
 * built-in ones), so `--logger +jsonl` / `--logger -tensorboard` changes what a run writes.
 *
 * The built-in loggers, each one file of the run as before: "tensorboard" (the event file:
 * hyper-parameters, HParams session, scalars), "csv" (the grid's metrics.csv), "summary"
 * (summary.json), "report" (report.html) — the default set, in that order — and "jsonl"
 * (one JSON object a line: the run's start, every epoch's figures, its end; off by default).
 */
import { join } from "node:path";
import { appendWhole } from "../atomic.ts";
import { appendMetrics, metricsRow } from "./csv.ts";
import { epochScalars, type EventWriter } from "./tfevents.ts";
import {
  SESSION_START_TAG,
  type SessionStatus,
  writeSessionEnd,
  writeSessionStart,
} from "./hparams_plugin.ts";
import { openRunEvents } from "./supersede.ts";
import { type RunSummary, writeSummary } from "./summary.ts";
import { fileDataUrl, reportHistory, type ReportSample, writeReport } from "./report.ts";
import type { EpochMetrics, Evaluation, HValue } from "../evaluate.ts";
import type { Plugin } from "../../plugins/registry.ts";

/** What a logger is told when a run's logging starts. */
export interface RunStart {
  /** The run's name (its folder's name, the CSV's `run` column). */
  run: string;
  /** The run's folder. */
  runDir: string;
  /** The grid's metrics.csv (shared by every run of the invocation). */
  csvPath: string;
  /** Class names by index. */
  classes: string[];
  /** The metric the best epoch is chosen by. */
  by: string;
  /** The run's hyper-parameters, when known before its first epoch. */
  hparams?: Record<string, HValue>;
  /** Epochs logged before a resume (empty for a new run). */
  history: readonly EpochMetrics[];
  /** Embed sample images in reports (default true). */
  thumbnails: boolean;
}

/** One epoch as a logger gets it. */
export interface EpochLog {
  /** The epoch's figures. */
  metrics: EpochMetrics;
  /** Every epoch of the run so far, this one last (a resumed run's earlier ones included). */
  history: readonly EpochMetrics[];
  /** The run's summary so far (best epoch by `RunStart.by`, its confusion matrix). */
  summary: RunSummary;
}

/**
 * A run logger. Every method is optional and may be async; the log stage calls them one at
 * a time, in order, and a logger that throws fails the run.
 *
 * @example
 * const printer: Logger = { epoch: ({ metrics }) => console.log(metrics.epoch, metrics.test.accuracy) };
 */
export interface Logger {
  /** The run's logging starts (before its first epoch; a resumed run gets its history). */
  start?(run: RunStart): void | Promise<void>;
  /** An epoch was trained and evaluated. */
  epoch?(e: EpochLog): void | Promise<void>;
  /** The running training loss at global step `step` (every few steps). */
  step?(step: number, loss: number, wallTime: number): void | Promise<void>;
  /** The run completed (all epochs, early stopping or a pruner): not called when interrupted. */
  end?(status: SessionStatus, wallTime: number): void | Promise<void>;
  /** The log stage closes (after `end`, or on an interruption). */
  close?(): void | Promise<void>;
}

/** TensorBoard tag of the training loss the "tensorboard" logger writes at each step. */
export const STEP_LOSS_TAG = "Loss/train_step";

/** The loggers a run has unless told otherwise, in the order they are called. */
export const DEFAULT_LOGGERS: readonly string[] = ["tensorboard", "csv", "summary", "report"];

/** The run's event file: hyper-parameters, HParams session start and end, epoch and step scalars. */
export function tensorboardLogger(): Logger {
  let run: RunStart;
  let events: EventWriter | undefined;
  let written = new Set<string>();
  let lastEpoch = 0, lastLogged = 0, ended = false;
  /** Opens the event file at the first write; `stepCut`: the first global step written now. */
  const open = async (stepCut: number): Promise<EventWriter> => {
    if (events) return events;
    const opened = await openRunEvents(run.runDir, {
      lastEpoch,
      stepCut,
      stepTags: new Set([STEP_LOSS_TAG]),
    });
    events = opened.writer;
    written = opened.carried;
    if (run.hparams) header(events, run.hparams, lastEpoch, Date.now() / 1000);
    return events;
  };
  /** The once-per-run summaries not yet in the file. */
  const header = (w: EventWriter, hp: Record<string, HValue>, step: number, wall: number) => {
    if (!written.has("hparams")) w.hparams(hp, step, wall);
    if (!written.has(SESSION_START_TAG)) writeSessionStart(w, hp, step, wall);
    written = new Set([...written, "hparams", SESSION_START_TAG]);
  };
  return {
    start(r) {
      run = r;
      lastEpoch = lastLogged = r.history.reduce((a, h) => Math.max(a, h.epoch), 0);
    },
    async epoch({ metrics: m, summary }) {
      const wall = m.wallTime ?? Date.now() / 1000;
      const w = await open(m.step + 1);
      // Written with the first epoch, dated at its start: the run's start.
      header(w, m.hparams, m.epoch - 1, wall - m.durationSec);
      lastLogged = m.epoch;
      // The best epoch so far, by the same rule as best.ckpt, summary.json and the report.
      const scalars: Record<string, number> = {
        ...epochScalars(m, run.classes),
        "Best/epoch": summary.bestEpoch,
        "Best/TestAccuracy": summary.best.TestAccuracy,
      };
      w.scalars(scalars, m.epoch, wall);
      await w.flush();
    },
    async step(step, loss, wallTime) {
      (await open(step)).scalars({ [STEP_LOSS_TAG]: loss }, step, wallTime);
    },
    async end(status, wallTime) {
      if (!events || ended) return;
      ended = true;
      writeSessionEnd(events, lastLogged, wallTime, status);
      await events.flush();
    },
    async close() {
      await events?.close();
    },
  };
}

/** One row per epoch in the grid's metrics.csv. */
export function csvLogger(): Logger {
  let csvPath = "";
  return {
    start: (r) => void (csvPath = r.csvPath),
    epoch: ({ metrics }) => appendMetrics(csvPath, metrics),
  };
}

/** summary.json in the run's folder, rewritten each epoch. */
export function summaryLogger(): Logger {
  let runDir = "";
  return {
    start: (r) => void (runDir = r.runDir),
    epoch: ({ summary }) => writeSummary(join(runDir, "summary.json"), summary),
  };
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

/** report.html in the run's folder, rewritten each epoch (`thumbnails` overrides the run's). */
export function reportLogger(o: { thumbnails?: boolean } = {}): Logger {
  let run: RunStart;
  return {
    start: (r) => void (run = r),
    async epoch({ metrics: m, history, summary }) {
      const best = history.find((h) => h.epoch === summary.bestEpoch)!;
      await writeReport(join(run.runDir, "report.html"), {
        run: m.run,
        classes: run.classes,
        history: reportHistory([...history]),
        confusion: summary.confusion,
        confusionEpoch: summary.bestEpoch,
        samples: await samples(best, o.thumbnails ?? run.thumbnails),
        hparams: m.hparams,
      });
    },
  };
}

/**
 * JSON lines, appended to `path` (default `<run folder>/log.jsonl`): `{"event": "start",
 * run, hparams, resumedAfter}`, one `{"event": "epoch", …metrics.csv's columns}` per epoch
 * and `{"event": "end", run, status}`.
 */
export function jsonlLogger(o: { path?: string } = {}): Logger {
  let path = "", run = "";
  const enc = new TextEncoder();
  const line = (v: unknown) =>
    appendWhole(path, enc.encode(JSON.stringify(v, (_, x) => (Number.isNaN(x) ? null : x)) + "\n"));
  return {
    async start(r) {
      path = o.path ?? join(r.runDir, "log.jsonl");
      run = r.run;
      const resumedAfter = r.history.reduce((a, h) => Math.max(a, h.epoch), 0);
      await line({ event: "start", run, hparams: r.hparams ?? null, resumedAfter });
    },
    epoch: ({ metrics }) => line({ event: "epoch", ...metricsRow(metrics), step: metrics.step }),
    end: (status) => line({ event: "end", run, status }),
  };
}

const plugin = <O>(
  name: string,
  description: string,
  options: string[],
  make: (o: O) => Logger,
): Plugin<O, Logger> => ({ kind: "logger", name, description, options, create: make });

/** The built-in logger plugins (registered by plugins/loggers/index.ts), by name. */
export const LOGGER_PLUGINS: Readonly<Record<string, Plugin<never, Logger>>> = {
  tensorboard: plugin(
    "tensorboard",
    "TensorBoard event file (scalars, HParams)",
    [],
    () => tensorboardLogger(),
  ),
  csv: plugin("csv", "a row per epoch in the version's metrics.csv", [], () => csvLogger()),
  summary: plugin(
    "summary",
    "summary.json: the best epoch and its figures",
    [],
    () => summaryLogger(),
  ),
  report: plugin("report", "report.html: curves, confusion matrix, samples", [
    "thumbnails",
  ], (o: { thumbnails?: boolean }) => reportLogger(o)),
  jsonl: plugin(
    "jsonl",
    "JSON lines (start, epochs, end) in <run>/log.jsonl (path=…)",
    ["path"],
    (o: { path?: string }) => jsonlLogger(o),
  ),
};

/** Fresh instances of the default loggers (`DEFAULT_LOGGERS`). */
export function defaultLoggers(): Logger[] {
  return DEFAULT_LOGGERS.map((n) => LOGGER_PLUGINS[n].create({} as never));
}
