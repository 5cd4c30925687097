/**
 * The independent Python reader (read_tfevents.py: its own CRC-32C and proto decoder) and
 * what it prints, for the tests of the event files.
 */
import { fileURLToPath } from "node:url";
import { computeMetrics } from "../../../stages/metrics.ts";
import type { EpochMetrics, HValue } from "../../../stages/evaluate.ts";

const READER = fileURLToPath(new URL("./read_tfevents.py", import.meta.url));

/** HParamsPluginData as the reader decodes it. */
export interface ReadHParams {
  version: number;
  experiment?: {
    time_created_secs?: number;
    hparam_infos: { name: string; type: number }[];
    metric_infos: { name: { group: string; tag: string }; dataset_type: number }[];
  };
  session_start_info?: { hparams: Record<string, HValue>; start_time_secs?: number };
  session_end_info?: { status: number; end_time_secs?: number };
}

/** A summary value as the reader decodes it. */
export interface ReadValue {
  tag: string;
  simple_value?: number;
  plugin?: string;
  tensor?: { dtype: number; string_val: string[]; dims?: unknown[] };
  hparams_plugin?: ReadHParams;
}

/** An event as the reader decodes it. */
export interface ReadEvent {
  wall_time: number;
  step: number;
  file_version?: string;
  values?: ReadValue[];
}

/** Runs the reader on an event file. */
export async function readBack(
  path: string,
): Promise<{ crc_checked: number; events: ReadEvent[] }> {
  const out = await new Deno.Command("/usr/bin/python3", { args: [READER, path] }).output();
  const err = new TextDecoder().decode(out.stderr);
  if (!out.success) throw new Error(`reader failed: ${err}`);
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

/** The values of every event with tag `tag`, as `[step, value]`. */
export function series(events: ReadEvent[], tag: string): [number, ReadValue][] {
  return events.flatMap((e) =>
    (e.values ?? []).filter((v) => v.tag === tag).map((v) => [e.step, v] as [number, ReadValue])
  );
}

/** The event files of a folder, by name. */
export function eventFileNames(dir: string): string[] {
  return [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) => n.includes("tfevents"))
    .sort();
}

/**
 * An epoch record of a two-class run: `right` of 4 test samples right, train loss 1/epoch
 * (plus `offset`, to tell a replayed epoch from the first try).
 */
export function epochRecord(
  run: string,
  e: number,
  hparams: Record<string, HValue>,
  right = 2,
  offset = 0,
): EpochMetrics {
  const out = [0, 1, 2, 3].flatMap((i) => (i < right ? [2, 0] : [0, 2]));
  return {
    run,
    epoch: e,
    step: e * 10,
    train: { loss: 1 / e + offset, accuracy: 0.5, count: 40 },
    test: { ...computeMetrics(out, [0, 0, 1, 1], 2), durationSec: 0.1, samples: [] },
    lr: 0.01,
    durationSec: 2,
    hparams,
    wallTime: 1700000000 + 100 * e + offset,
  };
}
