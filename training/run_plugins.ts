/**
 * The plugins a run takes from its options: `--stage name@point[:options]` (stage plugins
 * at the pipelines' named insertion points), `--logger +name` / `-name` (the run's
 * loggers), and, with choices.ts, `--pooling`, `--regularizer` and `--early-stopping`.
 * `checkChoices` checks all of them before any GPU work; `runPlugins` gives the fields of
 * `fit`'s options they make, and `dataStages` what `openImageData` inserts.
 *
 * Several stages or logger changes are separated by ";" or given as repeated flags.
 */
import { create, find, KINDS, names, type PluginKind } from "../plugins/registry.ts";
import { DEFAULT_LOGGERS, type Logger } from "../stages/log/loggers.ts";
import type { DataStages, StageMaker } from "../stages/image_data.ts";
import type { EpochMetrics } from "../stages/evaluate.ts";
import type { StepResult } from "../stages/train.ts";
import type { EarlyStopping } from "../plugins/callbacks/early_stopping.ts";
import { type Options, UsageError } from "./pipeline.ts";
import {
  checkPooling,
  type Choice,
  dryRun,
  earlyStoppingFactory,
  parseChoice,
  POOLING_ALIASES,
  REGULARIZER_KEYS,
  regularizerSpecs,
  resolvePlugin,
} from "./choices.ts";
import type { FitStages } from "./fit.ts";

/**
 * The named insertion points of `--stage name@point`, and the records a stage there takes
 * and gives back. Data points exist where the pipeline builds its chain with
 * `openImageData` (custom_cnn, intel, the tiny pipeline) or inserts them itself
 * (fashion_mnist: decode and batch); step and evaluate are `fit`'s, in every pipeline.
 */
export const STAGE_POINTS = {
  decode: "each decoded sample (Sample: resized, normalized, not yet augmented), every stream",
  augment: "each augmented training sample (Sample), the training stream only",
  batch: "each batch (Batch: NCHW floats, labels, paths), training and test streams",
  step: "the train step's results (StepResult: every few steps and at the epoch's end)",
  evaluate: "each epoch's record (EpochMetrics) after evaluation, before it is logged",
} as const;

/** One of `STAGE_POINTS`. */
export type StagePoint = keyof typeof STAGE_POINTS;

/** A stage plugin chosen for a point. */
export interface StageChoice extends Choice {
  /** Where it is inserted. */
  point: StagePoint;
}

const entries = (text: string | undefined) =>
  (text ?? "").split(";").map((s) => s.trim()).filter((s) => s !== "");

/** Parses and checks `--stage` (exit 2 on an unknown name, point or option). */
export function parseStages(text: string | undefined, flag = "--stage"): StageChoice[] {
  return entries(text).map((entry) => {
    const at = entry.indexOf("@");
    if (at < 1) throw new UsageError(`${flag} ${entry}: expected name@point[:options]`);
    const rest = entry.slice(at + 1);
    const colon = rest.indexOf(":");
    const where = (colon < 0 ? rest : rest.slice(0, colon)).trim().replace(/^after[_-]/, "");
    if (!(where in STAGE_POINTS)) {
      throw new UsageError(
        `${flag} ${entry}: no point "${where}"; points: ${Object.keys(STAGE_POINTS).join(", ")}`,
      );
    }
    const opts = colon < 0 ? "" : rest.slice(colon + 1);
    const c = parseChoice(flag, `${entry.slice(0, at)}${opts ? ":" + opts : ""}`);
    const p = resolvePlugin(flag, "stage", c);
    dryRun(flag, p, c.options, (made) => {
      if (!(made instanceof TransformStream)) throw new Error("create() gave no TransformStream");
    });
    return { ...c, name: p.name, point: where as StagePoint };
  });
}

/** Makers of the stages chosen for `point` (a fresh stage for each stream). */
export function stagesAt<T>(choices: StageChoice[], point: StagePoint): StageMaker<T>[] {
  return choices.filter((c) => c.point === point).map((c) => () =>
    create<TransformStream<T, T>>("stage", c.name, c.options)
  );
}

/** What `openImageData` inserts for `--stage` (undefined when no data point has one). */
export function dataStages(o: Options): DataStages | undefined {
  const all = parseStages(o.stage as string | undefined);
  if (!all.some((c) => ["decode", "augment", "batch"].includes(c.point))) return undefined;
  return {
    decode: stagesAt(all, "decode"),
    augment: stagesAt(all, "augment"),
    batch: stagesAt(all, "batch"),
  };
}

/** Refuses `--stage` at a point this pipeline does not have (exit 2), saying `why`. */
export function checkStagePoints(o: Options, points: readonly StagePoint[], why: string): void {
  for (const c of parseStages(o.stage as string | undefined)) {
    if (!points.includes(c.point)) {
      throw new UsageError(
        `--stage ${c.name}@${c.point}: ${why} (points here: ${points.join(", ")})`,
      );
    }
  }
}

/**
 * The loggers `--logger` leaves: the defaults, less each `-name`, with each `+name[:opts]`
 * (or bare `name[:opts]`) added — a default named again takes the new options in place.
 */
export function parseLoggers(text: string | undefined, flag = "--logger"): Choice[] {
  const list: Choice[] = DEFAULT_LOGGERS.map((name) => ({ name, options: {} }));
  for (const entry of entries(text)) {
    const remove = entry.startsWith("-");
    const c = parseChoice(flag, entry.replace(/^[+-]/, ""));
    const name = resolvePlugin(flag, "logger", c).name;
    const at = list.findIndex((l) => l.name === name);
    if (remove) {
      if (at < 0) {
        const left = list.map((l) => l.name).join(", ") || "none";
        throw new UsageError(
          `${flag} ${entry}: "${name}" is not among this run's loggers (${left})`,
        );
      }
      list.splice(at, 1);
      continue;
    }
    dryRun(flag, find("logger", name), c.options);
    if (at >= 0) list[at] = { name, options: c.options };
    else list.push({ name, options: c.options });
  }
  return list;
}

/** Fresh loggers for one run (undefined: the default set, which `fit` makes itself). */
export function makeLoggers(text: string | undefined): Logger[] | undefined {
  if (!entries(text).length) return undefined;
  return parseLoggers(text).map((c) => create<Logger>("logger", c.name, c.options));
}

/**
 * Checks every plugin choice among `o` (`--pooling`, `--regularizer`, `--early-stopping`,
 * `--stage`, `--logger`): UsageError (exit 2) before anything starts.
 */
export function checkChoices(o: Options): void {
  if (typeof o.pooling === "string") checkPooling(o.pooling);
  if (o.regularizer !== undefined) regularizerSpecs(String(o.regularizer));
  if (o.earlyStopping !== undefined) earlyStoppingFactory(String(o.earlyStopping));
  parseStages(o.stage as string | undefined);
  parseLoggers(o.logger as string | undefined);
}

/** The fields of `fit`'s options a run's plugin choices give (spread into `fit({…})`). */
export interface RunPluginFields {
  /** The run's loggers (`--logger`); undefined: the default set. */
  loggers?: Logger[];
  /** Stages at the train step's results and after evaluation (`--stage …@step|evaluate`). */
  stages?: FitStages;
  /** `--early-stopping`, made by `fit` for the run and disposed at its end. */
  earlyStopping?: () => EarlyStopping;
}

/** Makes the plugin fields of one run's `fit` options from its options. */
export function runPlugins(o: Options): RunPluginFields {
  const stages = parseStages(o.stage as string | undefined);
  const out: RunPluginFields = {};
  const loggers = makeLoggers(o.logger as string | undefined);
  if (loggers) out.loggers = loggers;
  if (stages.some((s) => s.point === "step" || s.point === "evaluate")) {
    out.stages = {
      step: stagesAt<StepResult>(stages, "step"),
      evaluate: stagesAt<EpochMetrics>(stages, "evaluate"),
    };
  }
  const early = earlyStoppingFactory(o.earlyStopping as string | undefined);
  if (early) out.earlyStopping = early;
  return out;
}

/** `--help`'s list of the registered plugins by kind, with the short names and points. */
export function pluginHelp(): string {
  const extra: Partial<Record<PluginKind, string>> = {
    pooling: `short: ${Object.entries(POOLING_ALIASES).map(([a]) => a).join(", ")}`,
    regularizer: `short keys: ${Object.keys(REGULARIZER_KEYS).join(", ")}`,
    stage: `points: ${Object.keys(STAGE_POINTS).join(", ")}`,
    logger: `default: ${DEFAULT_LOGGERS.join(", ")}`,
  };
  const lines = ["plugins by kind (--plugin FILE registers more):"];
  for (const kind of Object.keys(KINDS) as PluginKind[]) {
    const have = names(kind);
    const note = extra[kind] ? ` (${extra[kind]})` : "";
    lines.push(`  ${kind.padEnd(12)} ${have.length ? have.join(", ") : "none registered"}${note}`);
  }
  return lines.join("\n");
}
