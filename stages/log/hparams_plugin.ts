/**
 * TensorBoard's hparams plugin summaries, so that its HParams dashboard lists every run of a
 * grid with its hyper-parameters and metrics.
 *
 * Each run's event file gets `_hparams_/session_start_info` (the run's hyper-parameters and
 * start time) and `_hparams_/experiment` (the hyper-parameters' names and types and the
 * metrics shown: the scalar tags of `EPOCH_METRICS`) at its first epoch, and
 * `_hparams_/session_end_info` (success, end time) when the run ends. A run stopped by a
 * signal or killed has no end info; TensorBoard then shows its status as unknown.
 *
 * TensorBoard takes the experiment from one run, whichever it meets first, so every run
 * writes it (a grid's runs share their hyper-parameter names). No value domains are given:
 * one run does not know its siblings' values, and a domain would filter the others out.
 *
 * Field numbers: see the header of tfevents.ts.
 */
import { type EventWriter, Proto } from "./tfevents.ts";
import type { HValue } from "../evaluate.ts";

/** The hparams plugin's name in `SummaryMetadata.plugin_data`. */
export const HPARAMS_PLUGIN = "hparams";
/** Tag of the experiment summary. */
export const EXPERIMENT_TAG = "_hparams_/experiment";
/** Tag of a session's (run's) start summary. */
export const SESSION_START_TAG = "_hparams_/session_start_info";
/** Tag of a session's (run's) end summary. */
export const SESSION_END_TAG = "_hparams_/session_end_info";

/** A metric the HParams dashboard shows: a scalar tag of the run's own folder. */
export interface MetricSpec {
  /** Scalar tag. */
  tag: string;
  /** The split it is measured on. */
  dataset: "training" | "validation";
}

/** The epoch scalars shown as metrics. */
export const EPOCH_METRICS: readonly MetricSpec[] = [
  { tag: "Accuracy/test", dataset: "validation" },
  { tag: "Loss/test", dataset: "validation" },
  { tag: "Accuracy/train", dataset: "training" },
  { tag: "Loss/train", dataset: "training" },
];

/** A session's final status (api.proto `Status`). */
export type SessionStatus = "success" | "failure";

const STATUS = { success: 1, failure: 2 } as const;
const DATASET = { training: 1, validation: 2 } as const;

/** `HParamsPluginData` with version 0 and one of its `data` fields. */
function pluginData(field: 2 | 3 | 4, m: Proto): Uint8Array {
  return new Proto().int(1, 0).message(field, m).finish();
}

/** A hyper-parameter value as a `google.protobuf.Value`. */
function protoValue(v: HValue): Proto {
  if (typeof v === "number") return new Proto().double(2, v);
  if (typeof v === "boolean") return new Proto().int(4, v ? 1 : 0);
  return new Proto().string(3, String(v));
}

/** api.proto `DataType` of a value: FLOAT64 (3), BOOL (2) or STRING (1). */
export function hparamType(v: HValue): 1 | 2 | 3 {
  return typeof v === "number" ? 3 : typeof v === "boolean" ? 2 : 1;
}

/** Serialized plugin data of `_hparams_/session_start_info`. */
export function sessionStartContent(
  hparams: Record<string, HValue>,
  startTimeSecs: number,
): Uint8Array {
  const info = new Proto();
  for (const [name, v] of Object.entries(hparams)) {
    info.message(1, new Proto().string(1, name).message(2, protoValue(v)));
  }
  info.double(5, startTimeSecs);
  return pluginData(3, info);
}

/** Serialized plugin data of `_hparams_/session_end_info`. */
export function sessionEndContent(
  endTimeSecs: number,
  status: SessionStatus = "success",
): Uint8Array {
  return pluginData(4, new Proto().int(1, STATUS[status]).double(2, endTimeSecs));
}

/** Serialized plugin data of `_hparams_/experiment`: hyper-parameter and metric infos. */
export function experimentContent(
  hparams: Record<string, HValue>,
  timeCreatedSecs: number,
  metrics: readonly MetricSpec[] = EPOCH_METRICS,
): Uint8Array {
  const exp = new Proto().double(3, timeCreatedSecs);
  for (const [name, v] of Object.entries(hparams)) {
    exp.message(4, new Proto().string(1, name).int(4, hparamType(v)));
  }
  for (const m of metrics) {
    const name = new Proto().string(1, "").string(2, m.tag);
    exp.message(5, new Proto().message(1, name).int(5, DATASET[m.dataset]));
  }
  return pluginData(2, exp);
}

/** Writes the run's session start and the experiment summary at `step`. */
export function writeSessionStart(
  w: EventWriter,
  hparams: Record<string, HValue>,
  step: number,
  wallTime: number,
  metrics: readonly MetricSpec[] = EPOCH_METRICS,
): void {
  w.plugin(
    SESSION_START_TAG,
    HPARAMS_PLUGIN,
    sessionStartContent(hparams, wallTime),
    step,
    wallTime,
  );
  w.plugin(
    EXPERIMENT_TAG,
    HPARAMS_PLUGIN,
    experimentContent(hparams, wallTime, metrics),
    step,
    wallTime,
  );
}

/** Writes the run's session end (status and time) at `step`. */
export function writeSessionEnd(
  w: EventWriter,
  step: number,
  wallTime: number,
  status: SessionStatus = "success",
): void {
  w.plugin(SESSION_END_TAG, HPARAMS_PLUGIN, sessionEndContent(wallTime, status), step, wallTime);
}
