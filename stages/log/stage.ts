/**
 * Log stage: epoch records in, the same records out, and on the way every log of the run
 * written: a row of the grid's metrics.csv, scalars in the run's TensorBoard event file
 * (hyper-parameters as text first), summary.json and report.html (rewritten each epoch, so
 * a run stopped at any point leaves complete files).
 */
import { join } from "node:path";
import { appendMetrics } from "./csv.ts";
import { epochScalars, EventWriter } from "./tfevents.ts";
import { buildSummary, writeSummary } from "./summary.ts";
import { fileDataUrl, reportHistory, type ReportSample, writeReport } from "./report.ts";
import type { EpochMetrics, Evaluation } from "../evaluate.ts";

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
export function logStage(options: LogOptions): TransformStream<EpochMetrics, EpochMetrics> {
  const history = [...(options.history ?? [])];
  let events: EventWriter | undefined;
  return new TransformStream({
    async transform(m, controller) {
      await Deno.mkdir(options.runDir, { recursive: true });
      const wall = m.wallTime ?? Date.now() / 1000;
      if (!events) {
        events = await EventWriter.create(options.runDir);
        events.hparams(m.hparams, m.epoch - 1);
      }
      history.push(m);
      const summary = buildSummary(history, options.classes, options.by);
      // The best epoch so far, by the same rule as best.ckpt, summary.json and the report.
      const scalars: Record<string, number> = {
        ...epochScalars(m, options.classes),
        "Best/epoch": summary.bestEpoch,
        "Best/TestAccuracy": summary.best.TestAccuracy,
      };
      events.scalars(scalars, m.epoch, wall);
      await events.flush();
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
    },
    async flush() {
      await events?.close();
    },
  });
}
