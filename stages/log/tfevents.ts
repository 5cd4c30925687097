/**
 * TensorBoard event files (`events.out.tfevents.<time>.<host>`), written by hand.
 *
 * Each record is framed as TFRecord: uint64 length, masked CRC-32C of those 8 bytes, the
 * data, masked CRC-32C of the data (all little-endian). The data is an `Event` proto:
 * the first holds `file_version: "brain.Event:2"`, the rest a `Summary` of scalar values
 * (`simple_value`) or a text tensor (`DT_STRING`, plugin "text") for the hyper-parameters.
 *
 * The hparams plugin's summaries (`_hparams_/experiment`, `_hparams_/session_start_info`,
 * `_hparams_/session_end_info`) carry a serialized `HParamsPluginData` as their plugin
 * content, with an empty float tensor, so that TensorBoard's HParams dashboard lists the run.
 *
 * Field numbers (tensorflow/core/util/event.proto, framework/summary.proto, tensor.proto):
 * Event{wall_time=1 double, step=2 int64, file_version=3, summary=5};
 * Summary{value=1}; Value{tag=1, simple_value=2 float, tensor=8, metadata=9};
 * SummaryMetadata{plugin_data=1{plugin_name=1, content=2}};
 * TensorProto{dtype=1 (DT_FLOAT=1, DT_STRING=7), tensor_shape=2{dim=2{size=1}}, string_val=8}.
 * From tensorboard/plugins/hparams/plugin_data.proto and api.proto:
 * HParamsPluginData{version=1, experiment=2, session_start_info=3, session_end_info=4};
 * SessionStartInfo{hparams=1 map<string, google.protobuf.Value>, start_time_secs=5 double};
 * SessionEndInfo{status=1 (STATUS_SUCCESS=1), end_time_secs=2 double};
 * Experiment{time_created_secs=3, hparam_infos=4, metric_infos=5};
 * HParamInfo{name=1, type=4 (STRING=1, BOOL=2, FLOAT64=3)};
 * MetricInfo{name=1 MetricName{group=1, tag=2}, dataset_type=5 (TRAINING=1, VALIDATION=2)};
 * google.protobuf.Value{number_value=2 double, string_value=3, bool_value=4};
 * a map entry is {key=1, value=2}.
 */
import { hostname } from "node:os";
import { join } from "node:path";
import { crc32c, maskCrc } from "./crc32c.ts";
import { writeError } from "../atomic.ts";
import type { EpochMetrics, HValue } from "../evaluate.ts";

/** A protobuf message under construction: a list of encoded bytes. */
export class Proto {
  /** The encoded bytes so far. */
  parts: number[] = [];

  /** Appends a base-128 varint (no key). */
  varint(v: number | bigint): this {
    let b = BigInt.asUintN(64, BigInt(v));
    while (b >= 0x80n) {
      this.parts.push(Number(b & 0x7fn) | 0x80);
      b >>= 7n;
    }
    this.parts.push(Number(b));
    return this;
  }

  /** Appends a field key. */
  key(field: number, wire: number): this {
    return this.varint((field << 3) | wire);
  }

  /** Appends a double field (wire type 1). */
  double(field: number, v: number): this {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setFloat64(0, v, true);
    this.key(field, 1).parts.push(...b);
    return this;
  }

  /** Appends a float field (wire type 5). */
  float(field: number, v: number): this {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, v, true);
    this.key(field, 5).parts.push(...b);
    return this;
  }

  /** Appends a varint field (int32/int64/enum/bool). */
  int(field: number, v: number | bigint): this {
    return this.key(field, 0).varint(v);
  }

  /** Appends a length-delimited bytes field. */
  bytes(field: number, b: Uint8Array | number[]): this {
    this.key(field, 2).varint(b.length);
    for (const x of b) this.parts.push(x);
    return this;
  }

  /** Appends a UTF-8 string field. */
  string(field: number, s: string): this {
    return this.bytes(field, new TextEncoder().encode(s));
  }

  /** Appends an embedded message field. */
  message(field: number, m: Proto): this {
    return this.bytes(field, m.parts);
  }

  /** The message's bytes. */
  finish(): Uint8Array {
    return new Uint8Array(this.parts);
  }
}

/**
 * One value of a summary: a scalar, a text, or a plugin's own summary (its serialized
 * content in the metadata, with an empty float tensor, as the hparams plugin expects).
 */
export type SummaryValue =
  | { tag: string; scalar: number }
  | { tag: string; text: string }
  | { tag: string; plugin: string; content: Uint8Array };

/** An event to encode. */
export interface EventRecord {
  /** Unix seconds (fractional). */
  wallTime: number;
  /** Global step. */
  step: number;
  /** Set only on the first event of a file ("brain.Event:2"). */
  fileVersion?: string;
  /** Summary values. */
  values?: SummaryValue[];
}

/** Encodes an `Event` proto. */
export function encodeEvent(e: EventRecord): Uint8Array {
  const ev = new Proto().double(1, e.wallTime).int(2, e.step);
  if (e.fileVersion !== undefined) ev.string(3, e.fileVersion);
  if (e.values?.length) {
    const summary = new Proto();
    for (const v of e.values) {
      const value = new Proto().string(1, v.tag);
      if ("scalar" in v) value.float(2, v.scalar);
      else if ("plugin" in v) {
        // DT_FLOAT, shape [0]: the null tensor TensorBoard's hparams summaries carry.
        const tensor = new Proto().int(1, 1).message(2, new Proto().message(2, new Proto()));
        const meta = new Proto().message(
          1,
          new Proto().string(1, v.plugin).bytes(2, v.content),
        );
        value.message(8, tensor).message(9, meta);
      } else {
        const tensor = new Proto().int(1, 7).message(2, new Proto())
          .bytes(8, new TextEncoder().encode(v.text));
        const meta = new Proto().message(1, new Proto().string(1, "text"));
        value.message(8, tensor).message(9, meta);
      }
      summary.message(1, value);
    }
    ev.message(5, summary);
  }
  return ev.finish();
}

/** Frames `data` as one TFRecord (length, masked CRCs). */
export function frameRecord(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(16 + data.length);
  const dv = new DataView(out.buffer);
  dv.setBigUint64(0, BigInt(data.length), true);
  dv.setUint32(8, maskCrc(crc32c(out.subarray(0, 8))), true);
  out.set(data, 12);
  dv.setUint32(12 + data.length, maskCrc(crc32c(data)), true);
  return out;
}

/** Name prefix of a staged event file (no "tfevents" in it: TensorBoard skips it). */
export const STAGED_PREFIX = ".staged-events.";

/** Options of an event writer. */
export interface EventWriterOptions {
  /** Host name in the file name (default: this machine's). */
  host?: string;
  /** Unix seconds for the file name and the first event (default: now). */
  time?: number;
  /**
   * Write to a hidden temporary file (no "tfevents" in its name, so TensorBoard skips it)
   * until `publish()` renames it to `path` — replacing a file of that name at once.
   */
  staged?: boolean;
}

/**
 * Writes events to one `events.out.tfevents.*` file; each record is written at once, whole
 * or not at all (a record cut short by a full disk is cut off again, so the file stays
 * readable past it).
 */
export class EventWriter {
  /** The event file's path. */
  readonly path: string;
  #file: Deno.FsFile;
  #staged: string | undefined;
  /** Bytes of whole records written. */
  #length = 0;

  private constructor(path: string, file: Deno.FsFile, staged?: string) {
    this.path = path;
    this.#file = file;
    this.#staged = staged;
  }

  /** Creates the folder and a new event file in it, starting with the file-version event. */
  static async create(dir: string, opts: EventWriterOptions = {}): Promise<EventWriter> {
    await Deno.mkdir(dir, { recursive: true });
    const time = opts.time ?? Date.now() / 1000;
    const host = (opts.host ?? hostname()).replace(/[^\w.-]/g, "_");
    let path = join(dir, `events.out.tfevents.${Math.floor(time)}.${host}`);
    if (opts.staged) {
      const tmp = join(dir, `${STAGED_PREFIX}${Deno.pid}.${crypto.randomUUID()}`);
      const w = new EventWriter(path, await Deno.open(tmp, { write: true, createNew: true }), tmp);
      w.write({ wallTime: time, step: 0, fileVersion: "brain.Event:2" });
      return w;
    }
    for (let n = 1;; n++) {
      try {
        const file = await Deno.open(path, { write: true, createNew: true });
        const w = new EventWriter(path, file);
        w.write({ wallTime: time, step: 0, fileVersion: "brain.Event:2" });
        return w;
      } catch (e) {
        if (!(e instanceof Deno.errors.AlreadyExists) || n > 100) throw e;
        path = join(dir, `events.out.tfevents.${Math.floor(time)}.${host}.${Deno.pid}.${n}`);
      }
    }
  }

  /** Writes one event. */
  write(e: EventRecord): void {
    this.writeData(encodeEvent(e));
  }

  /** Writes one already-encoded `Event` (e.g. copied from another event file). */
  writeData(data: Uint8Array): void {
    const rec = frameRecord(data);
    let off = 0;
    try {
      while (off < rec.length) off += this.#file.writeSync(rec.subarray(off));
    } catch (e) {
      if (off > 0) {
        try {
          this.#file.truncateSync(this.#length);
          this.#file.seekSync(this.#length, Deno.SeekMode.Start);
        } catch { /* the error below says what failed */ }
      }
      throw writeError(this.path, e);
    }
    this.#length += rec.length;
  }

  /** Writes scalars (tag → value) as one event at `step`. */
  scalars(values: Record<string, number>, step: number, wallTime = Date.now() / 1000): void {
    this.write({
      wallTime,
      step,
      values: Object.entries(values).map(([tag, scalar]) => ({ tag, scalar })),
    });
  }

  /** Writes a text summary (rendered as Markdown by TensorBoard). */
  text(tag: string, text: string, step = 0, wallTime = Date.now() / 1000): void {
    this.write({ wallTime, step, values: [{ tag, text }] });
  }

  /** Writes hyper-parameters as a Markdown table under the tag "hparams". */
  hparams(hparams: Record<string, HValue>, step = 0, wallTime = Date.now() / 1000): void {
    this.text("hparams", hparamsMarkdown(hparams), step, wallTime);
  }

  /** Writes a plugin's summary: `content` is its serialized plugin data. */
  plugin(
    tag: string,
    plugin: string,
    content: Uint8Array,
    step = 0,
    wallTime = Date.now() / 1000,
  ): void {
    this.write({ wallTime, step, values: [{ tag, plugin, content }] });
  }

  /** Whether the file is still staged (not yet visible under `path`). */
  get staged(): boolean {
    return this.#staged !== undefined;
  }

  /** Syncs a staged file and renames it to `path` (atomically replacing any file there). */
  async publish(): Promise<void> {
    if (this.#staged === undefined) return;
    await this.flush();
    await Deno.rename(this.#staged, this.path).catch((e) =>
      Promise.reject(writeError(this.path, e))
    );
    this.#staged = undefined;
  }

  /** Closes a staged file without publishing it and removes it (a no-op once published). */
  async discard(): Promise<void> {
    if (this.#staged === undefined) return;
    this.#file.close();
    await Deno.remove(this.#staged).catch(() => {});
    this.#staged = undefined;
  }

  /** Flushes to disk. */
  async flush(): Promise<void> {
    await this.#file.sync().catch((e) => Promise.reject(writeError(this.path, e)));
  }

  /** Flushes (and publishes, when staged) and closes the file. */
  async close(): Promise<void> {
    await this.publish();
    await this.flush();
    this.#file.close();
  }
}

/** Hyper-parameters as a two-column Markdown table. */
export function hparamsMarkdown(hparams: Record<string, HValue>): string {
  const cell = (s: string) => s.replaceAll("|", "\\|");
  const rows = Object.entries(hparams).map(([k, v]) => `| ${cell(k)} | ${cell(String(v))} |`);
  return ["| hyper-parameter | value |", "|---|---|", ...rows].join("\n");
}

/**
 * Every scalar of an epoch, by TensorBoard tag: loss and accuracy of both splits, top-5,
 * macro precision/recall/F1, per-class figures (named by `classes` when given), lr, time.
 */
export function epochScalars(m: EpochMetrics, classes?: string[]): Record<string, number> {
  const t = m.test;
  const out: Record<string, number> = {
    "Loss/train": m.train.loss,
    "Loss/test": t.loss,
    "Accuracy/train": m.train.accuracy,
    "Accuracy/test": t.accuracy,
    "Top5/test": t.top5,
    "Precision/macro": t.macro.precision,
    "Recall/macro": t.macro.recall,
    "F1/macro": t.macro.f1,
  };
  t.precision.forEach((_, c) => {
    const name = (classes?.[c] ?? String(c)).replace(/[^\w.-]/g, "_");
    out[`Precision/${name}`] = t.precision[c];
    out[`Recall/${name}`] = t.recall[c];
    out[`F1/${name}`] = t.f1[c];
  });
  out["lr"] = m.lr;
  out["epoch_duration"] = m.durationSec;
  return out;
}
