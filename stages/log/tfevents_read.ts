/**
 * Reading back event files written by tfevents.ts: the TFRecord framing with both CRCs
 * checked, and of each `Event` just what deciding to keep it needs (wall time, step, its
 * summary values' tags, whether it is the file-version event), with its raw bytes to copy.
 *
 * A file ends at its first bad record: a writer killed mid-record leaves a torn tail.
 */
import { join } from "node:path";
import { crc32c, maskCrc } from "./crc32c.ts";

/** One event read back. */
export interface StoredEvent {
  /** The encoded `Event` (the record's data), to write again as is. */
  data: Uint8Array<ArrayBuffer>;
  /** Unix seconds. */
  wallTime: number;
  /** Global step. */
  step: number;
  /** The tags of its summary values. */
  tags: string[];
  /** Whether it is the file's `file_version` event. */
  fileVersion: boolean;
}

/** The events of one file. */
export interface EventFile {
  /** Events up to the first bad or torn record. */
  events: StoredEvent[];
  /** Whether the file ended with a bad or torn record (skipped). */
  torn: boolean;
}

/** Reads protobuf fields; calls `on(field, wire, value)` for each. */
function eachField(
  buf: Uint8Array,
  on: (field: number, wire: number, v: bigint | Uint8Array) => void,
): void {
  let i = 0;
  const varint = (): bigint => {
    let r = 0n, shift = 0n;
    for (;;) {
      if (i >= buf.length) throw new Error("truncated varint");
      const b = buf[i++];
      r |= BigInt(b & 0x7f) << shift;
      shift += 7n;
      if (!(b & 0x80)) return r;
    }
  };
  const take = (n: number): Uint8Array => {
    if (i + n > buf.length) throw new Error("field overruns its message");
    const v = buf.subarray(i, i + n);
    i += n;
    return v;
  };
  while (i < buf.length) {
    const key = Number(varint());
    const wire = key & 7;
    if (wire === 0) on(key >> 3, wire, varint());
    else if (wire === 1) on(key >> 3, wire, take(8));
    else if (wire === 2) on(key >> 3, wire, take(Number(varint())));
    else if (wire === 5) on(key >> 3, wire, take(4));
    else throw new Error(`unsupported wire type ${wire}`);
  }
}

/** Decodes what `StoredEvent` holds of an `Event`. */
export function decodeEvent(data: Uint8Array<ArrayBuffer>): StoredEvent {
  const ev: StoredEvent = { data, wallTime: 0, step: 0, tags: [], fileVersion: false };
  eachField(data, (f, wire, v) => {
    if (f === 1 && wire === 1) {
      const b = v as Uint8Array;
      ev.wallTime = new DataView(b.buffer, b.byteOffset, 8).getFloat64(0, true);
    } else if (f === 2 && wire === 0) ev.step = Number(BigInt.asIntN(64, v as bigint));
    else if (f === 3 && wire === 2) ev.fileVersion = true;
    else if (f === 5 && wire === 2) {
      eachField(v as Uint8Array, (f2, w2, value) => {
        if (f2 !== 1 || w2 !== 2) return;
        eachField(value as Uint8Array, (f3, w3, tag) => {
          if (f3 === 1 && w3 === 2) ev.tags.push(new TextDecoder().decode(tag as Uint8Array));
        });
      });
    }
  });
  return ev;
}

/** Parses the records of an event file's bytes. */
export function parseEventFile(bytes: Uint8Array): EventFile {
  const events: StoredEvent[] = [];
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let i = 0;
  while (i < bytes.length) {
    if (i + 12 > bytes.length) return { events, torn: true };
    if (maskCrc(crc32c(bytes.subarray(i, i + 8))) !== dv.getUint32(i + 8, true)) {
      return { events, torn: true };
    }
    const len = Number(dv.getBigUint64(i, true));
    if (i + 16 + len > bytes.length) return { events, torn: true };
    const data = bytes.slice(i + 12, i + 12 + len);
    if (maskCrc(crc32c(data)) !== dv.getUint32(i + 12 + len, true)) return { events, torn: true };
    try {
      events.push(decodeEvent(data));
    } catch {
      return { events, torn: true };
    }
    i += 16 + len;
  }
  return { events, torn: false };
}

/** Reads an event file. */
export async function readEventFile(path: string): Promise<EventFile> {
  return parseEventFile(await Deno.readFile(path));
}

/** Paths of a folder's event files (TensorBoard reads files with "tfevents" in their name). */
export async function eventFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  try {
    for await (const e of Deno.readDir(dir)) {
      if (e.isFile && e.name.includes("tfevents")) out.push(join(dir, e.name));
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  return out.sort();
}
