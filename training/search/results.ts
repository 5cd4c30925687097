/**
 * What a study shows when it ends (and its report after every trial): the best-N table of
 * the whole study, read from the study's store (every worker's trials, on every machine),
 * the report.html of the version folder (stages/log/grid_report.ts: the trials with their
 * state, each searched hyper-parameter against the test accuracy, the best trial's curves)
 * and the closing lines naming the best trial.
 */
import { join } from "node:path";
import type { HValue } from "../../stages/evaluate.ts";
import { bestRows, bestTable, type Row } from "../grid.ts";
import {
  type GridReportRun,
  gridRuns,
  type StudyView,
  writeGridReport,
} from "../../stages/log/grid_report.ts";
import type { RunSummary } from "../../stages/log/summary.ts";
import { launcher } from "../run_spec.ts";
import { better, type EpochValue, type TrialRecord } from "./types.ts";
import type { Study } from "./study.ts";
import { searchedKeys, STUDY_METRIC } from "./flags.ts";
import type { SearchSpace } from "./space.ts";

/** A trial's folder name in the version folder: `trial_0007`. */
export function trialName(n: number): string {
  return `trial_${String(n).padStart(4, "0")}`;
}

/** The best report of a trial (the earlier epoch on a tie), if any finite one. */
export function bestReport(reports: readonly EpochValue[]): EpochValue | undefined {
  let best: EpochValue | undefined;
  for (const r of reports) {
    if (Number.isFinite(r.value) && (!best || better(r.value, best.value, "max"))) best = r;
  }
  return best;
}

/** A value as the tables show it: fractions to 4 significant digits. */
function shown(v: HValue): HValue {
  return typeof v === "number" && !Number.isInteger(v) ? Number(v.toPrecision(4)) : v;
}

/** A trial's value as shown: the stored one, else its best report so far. */
function valueOf(t: TrialRecord): number | undefined {
  return t.value ?? bestReport(t.reports)?.value;
}

/**
 * The best epoch of each trial trained here, by the project's rule (its summary.json):
 * the store holds only the test accuracy, so elsewhere a tie goes to the earlier epoch.
 */
export async function localBestEpochs(
  versionDir: string,
  trials: readonly TrialRecord[],
): Promise<Map<number, number>> {
  const out = new Map<number, number>();
  for (const t of trials) {
    const s = t.params ? await summaryOf(versionDir, trialName(t.number)) : undefined;
    if (s && s.epochs.length >= t.reports.length) out.set(t.number, s.bestEpoch);
  }
  return out;
}

/** One row per trial that was claimed: number, state, value, best epoch, configuration. */
export function studyRows(
  trials: readonly TrialRecord[],
  space: SearchSpace,
  bestEpochs = new Map<number, number>(),
): Row[] {
  const keys = searchedKeys(space);
  return trials.filter((t) => t.params).map((t) => {
    const row: Row = {
      trial: t.number,
      state: t.state,
      [STUDY_METRIC]: valueOf(t),
      epoch: bestEpochs.get(t.number) ?? bestReport(t.reports)?.epoch,
      epochs: t.reports.length,
    };
    for (const k of keys) row[k] = shown(t.params![k] as HValue);
    row.worker = t.worker;
    return row;
  });
}

/** How many trials are in each state, as one phrase (`9 complete, 3 pruned`). */
export function stateCounts(trials: readonly TrialRecord[]): string {
  const order = ["complete", "pruned", "failed", "running", "queued"] as const;
  const n = (s: string) => trials.filter((t) => t.state === s).length;
  return order.filter((s) => n(s) > 0).map((s) => `${n(s)} ${s}`).join(", ") || "none";
}

/** The trials that count for "best": complete or pruned, with a finite value. */
function finished(trials: readonly TrialRecord[]): TrialRecord[] {
  return trials.filter((t) => {
    const v = valueOf(t);
    return (t.state === "complete" || t.state === "pruned") && v !== undefined &&
      Number.isFinite(v);
  });
}

/** The study's closing table: its best `top` finished (complete or pruned) trials. */
export function studyTable(
  trials: readonly TrialRecord[],
  space: SearchSpace,
  top: number,
  bestEpochs?: Map<number, number>,
): string {
  const rows = studyRows(finished(trials), space, bestEpochs);
  const cols = [
    "trial",
    "state",
    STUDY_METRIC,
    "epoch",
    "epochs",
    ...searchedKeys(space),
    "worker",
  ];
  return bestTable(rows, top, STUDY_METRIC, cols);
}

/**
 * The study's best trial among the complete and pruned ones: the first row of the closing
 * table (the project's best-epoch rule on the test accuracy, ties to the earlier epoch,
 * then the lower trial number), so the table and the closing lines always agree.
 */
export function bestTrial(
  trials: readonly TrialRecord[],
  bestEpochs = new Map<number, number>(),
): TrialRecord | undefined {
  const done = finished(trials);
  const [top] = bestRows(studyRows(done, {}, bestEpochs), 1, STUDY_METRIC);
  return top ? done.find((t) => t.number === top.trial) : undefined;
}

function scale(space: SearchSpace, k: string): "linear" | "log" | "category" {
  const d = space[k];
  if (d.kind === "loguniform" || (d.kind === "int" && d.log)) return "log";
  if (d.kind === "choice") {
    return d.choices.every((c) => typeof c === "number") ? "linear" : "category";
  }
  return "linear";
}

async function summaryOf(versionDir: string, name: string): Promise<RunSummary | undefined> {
  try {
    return JSON.parse(await Deno.readTextFile(join(versionDir, name, "summary.json")));
  } catch {
    return undefined;
  }
}

/**
 * Writes the version folder's report.html for the whole study: every claimed trial (those
 * trained here link to their own report), the scatter of each searched hyper-parameter
 * against the test accuracy, and the best trial's curves. Returns its path.
 */
export async function writeStudyReport(
  versionDir: string,
  study: Study,
  title: string,
): Promise<string> {
  const trials = (await study.trials()).filter((t) => t.params);
  const space = study.definition.space;
  const keys = searchedKeys(space);
  const local = new Map(
    (await gridRuns(versionDir, trials.map((t) => trialName(t.number)))).map((r) => [r.name, r]),
  );
  const runs: GridReportRun[] = trials.map((t) => {
    const name = trialName(t.number);
    const hparams = Object.fromEntries(keys.map((k) => [k, shown(t.params![k] as HValue)]));
    const here = local.get(name);
    const extra = { hparams, state: t.state, trial: t.number };
    if (here && here.epochs >= t.reports.length) return { ...here, ...extra };
    const best = bestReport(t.reports);
    return {
      name,
      ...extra,
      bestEpoch: best?.epoch ?? 0,
      epochs: t.reports.length,
      best: { TestAccuracy: valueOf(t) ?? NaN, TestLoss: NaN, TrainAccuracy: NaN, TrainLoss: NaN },
      curve: t.reports.map((r) => [r.epoch, r.value] as [number, number]),
      report: "",
    };
  });
  const top = bestTrial(trials);
  const view: StudyView = {
    name: study.name,
    where: study.where,
    metric: STUDY_METRIC,
    params: keys.map((k) => ({ key: k, scale: scale(space, k) })),
    states: stateCounts(trials),
  };
  if (top) {
    const name = trialName(top.number);
    const s = local.has(name) ? await summaryOf(versionDir, name) : undefined;
    view.best = {
      name,
      accuracy: s
        ? [
          { name: "test", points: s.epochs.map((e) => [e.epoch, e.TestAccuracy]) },
          { name: "train", points: s.epochs.map((e) => [e.epoch, e.TrainAccuracy]) },
        ]
        : [{ name: "test", points: top.reports.map((r) => [r.epoch, r.value]) }],
      loss: s
        ? [
          { name: "test", points: s.epochs.map((e) => [e.epoch, e.TestLoss]) },
          { name: "train", points: s.epochs.map((e) => [e.epoch, e.TrainLoss]) },
        ]
        : [],
    };
  }
  return await writeGridReport(versionDir, title, runs, view);
}

/** The closing lines: the best trial, its report and model when trained here, what to try. */
export function studyEnding(
  versionDir: string,
  trials: readonly TrialRecord[],
  space: SearchSpace,
  report: string,
  bestEpochs = new Map<number, number>(),
): string {
  const top = bestTrial(trials, bestEpochs);
  if (!top) return `\nno trial finished yet\n  study report: ${report}`;
  const dir = join(versionDir, trialName(top.number));
  const has = (p: string) => {
    try {
      return Deno.statSync(p).isFile;
    } catch {
      return false;
    }
  };
  const epoch = bestEpochs.get(top.number) ?? bestReport(top.reports)?.epoch ?? "?";
  const where = has(join(dir, "run.json")) ? "" : ` (trained by ${top.worker ?? "another worker"})`;
  return [
    "",
    `best trial: ${trialName(top.number)} (${top.state}${where}), epoch ${epoch}: ` +
    `test accuracy ${(100 * (valueOf(top) ?? NaN)).toFixed(2)}%`,
    `  params:       ${searchedKeys(space).map((k) => `${k}=${top.params![k]}`).join(" ")}`,
    ...(has(join(dir, "report.html")) ? [`  report:       ${join(dir, "report.html")}`] : []),
    `  study report: ${report}`,
    ...(has(join(dir, "model.onnx"))
      ? [
        `  model:        ${join(dir, "model.onnx")}`,
        `  try:          ${launcher()} task predict ${dir} <images or folders>`,
      ]
      : []),
  ].join("\n");
}
