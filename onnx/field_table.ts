/**
 * Declarative protobuf decoding. A message is described by a {@link Message}: a table from
 * field number to {@link Field} (the property of the result it fills, its wire kind, and
 * whether it repeats), a fresh result with the defaults, and an optional `finish` for what
 * a table cannot say. ONE decoder, {@link decodeMessage}, walks the wire format with
 * {@link ProtoReader} for every message:
 *
 * - fields not in the table are skipped (unknown and future fields, and those the reader
 *   has no use for);
 * - repeated scalars accept both the packed and the unpacked encoding, as protobuf
 *   parsers must;
 * - a listed field with the wrong wire type is a `ProtoError` naming the field,
 *   its wire type and the expected one, at the tag's byte offset — or, in a `lenient`
 *   message, is skipped like an unknown field.
 *
 * @module
 */

import {
  packedFloat32,
  ProtoReader,
  WIRE_FIXED32,
  WIRE_FIXED64,
  WIRE_LEN,
  WIRE_VARINT,
} from "./proto.ts";
import { Corrupt, type ReadCtx } from "./schema.ts";

/** Decodes one embedded message (the reader spans exactly its bytes). */
export type Decoder<R> = (r: ProtoReader, ctx: ReadCtx) => R;

/**
 * One wire field's worth of repeated int64/uint64 values (packed or a single varint), as
 * raw 32-bit halves, ready to be copied into a 64-bit typed array.
 */
export interface Int64Run {
  /** lo, hi, lo, hi, … */
  halves: Uint32Array;
  /** Number of values (halves.length / 2). */
  count: number;
}

/**
 * What a field holds and how it is encoded. Scalars: `int32` and `int64` (varint; int64
 * read as a number, see {@link ProtoReader.int64}), `float` (32-bit), `string` (UTF-8),
 * `bytes` (a view into the input). `message`: an embedded message read by `decode`.
 * Typed runs, always repeated, each wire field appended as one array: `float32s` (32-bit
 * or packed), `float64s` (64-bit or packed), `int64s` ({@link Int64Run}s of varints).
 * `ignored`: a known field that is only checked for its wire type (see {@link fieldWire}).
 */
export type Field<T> =
  | {
    kind: "int32" | "int64" | "float" | "string" | "bytes";
    /** The property of the result this field fills. */
    name: keyof T & string;
    /** Appended to the array at `name` (scalars: packed or not). */
    repeated?: boolean;
  }
  | {
    kind: "message";
    name: keyof T & string;
    decode: Decoder<unknown>;
    repeated?: boolean;
    /** `decode` returns a [key, value] entry, set into the record at `name` (last wins). */
    map?: boolean;
    /** Places the decoded value itself (instead of assigning or appending it at `name`). */
    store?: (target: T, value: never) => void;
  }
  | { kind: "float32s" | "float64s" | "int64s"; name: keyof T & string }
  | { kind: "ignored"; wire: number };

/** A message: its field table, its defaults and its post-processing. */
export interface Message<T, R = T> {
  /** A fresh result with every default; its key order is the result's. */
  init(): T;
  /** Field number → field; fields not listed are skipped. */
  fields: Record<number, Field<T>>;
  /** Skip (instead of rejecting) a listed field that comes with another wire type. */
  lenient?: boolean;
  /** Turns the filled result into the decoded value (checks, defaults, normalizing). */
  finish?(target: T, ctx: ReadCtx): R;
}

/** The wire type a field is written with (packable fields also accept length-delimited). */
function wireOf<T>(f: Field<T>): number {
  switch (f.kind) {
    case "int32":
    case "int64":
    case "int64s":
      return WIRE_VARINT;
    case "float":
    case "float32s":
      return WIRE_FIXED32;
    case "float64s":
      return WIRE_FIXED64;
    case "ignored":
      return f.wire;
    default:
      return WIRE_LEN;
  }
}

function accepts<T>(f: Field<T>, wire: number): boolean {
  if (wire === wireOf(f)) return true;
  if (wire !== WIRE_LEN) return false;
  switch (f.kind) {
    case "float32s":
    case "float64s":
    case "int64s":
      return true;
    case "int32":
    case "int64":
    case "float":
      return f.repeated === true; // packed
    default:
      return false;
  }
}

/** The wire type of field `field` of `m`, or undefined when the table does not list it. */
export function fieldWire<T, R>(m: Message<T, R>, field: number): number | undefined {
  const f: Field<T> | undefined = m.fields[field];
  return f === undefined ? undefined : wireOf(f);
}

/**
 * Decodes one message with its table: fills `m.init()` field by field in wire order, then
 * returns `m.finish` of it. Throws `ProtoError` for malformed bytes and wire-type
 * mismatches, {@link Corrupt} for packed runs of a length that is not a whole number of
 * elements, and whatever the sub-decoders and `finish` throw.
 */
export function decodeMessage<T, R = T>(r: ProtoReader, m: Message<T, R>, ctx: ReadCtx): R {
  const readers = COMPILED.get(m) ?? compile(m);
  const target = m.init();
  while (r.tag()) {
    const read = readers[r.field];
    if (read === undefined) r.skip();
    else read(r, target as Record<string, unknown>, ctx);
  }
  return m.finish ? m.finish(target, ctx) : target as unknown as R;
}

/** Reads one occurrence of a field into the target. */
type Reader = (r: ProtoReader, t: Record<string, unknown>, ctx: ReadCtx) => void;

/**
 * Each table's fields as {@link Reader}s, made once per table on first use (a lookup and
 * a call per field instead of a dispatch on the field's description each time).
 */
const COMPILED = new WeakMap<object, Reader[]>();

function compile<T, R>(m: Message<T, R>): Reader[] {
  const readers: Reader[] = [];
  for (const [k, f] of Object.entries(m.fields) as [string, Field<T>][]) {
    const read = readerOf(f);
    readers[Number(k)] = m.lenient
      ? (r, t, ctx) => accepts(f, r.wire) ? read(r, t, ctx) : r.skip()
      : read;
  }
  COMPILED.set(m, readers);
  return readers;
}

const readInt32 = (r: ProtoReader) => r.int32();
const readInt64 = (r: ProtoReader) => r.int64();

function readerOf<T>(f: Field<T>): Reader {
  switch (f.kind) {
    case "int32":
    case "int64": {
      const { name } = f;
      const read = f.kind === "int32" ? readInt32 : readInt64;
      if (f.repeated) return (r, t) => r.repeatedVarint(t[name] as number[], read);
      return (r, t) => {
        r.expect(WIRE_VARINT);
        t[name] = read(r);
      };
    }
    case "float": {
      const { name } = f;
      if (f.repeated) return (r, t) => r.repeatedFloat(t[name] as number[]);
      return (r, t) => {
        r.expect(WIRE_FIXED32);
        t[name] = r.float();
      };
    }
    case "string":
    case "bytes": {
      const { name } = f;
      const str = f.kind === "string";
      if (f.repeated) {
        return (r, t) => {
          r.expect(WIRE_LEN);
          (t[name] as unknown[]).push(str ? r.string() : r.bytes());
        };
      }
      return (r, t) => {
        r.expect(WIRE_LEN);
        t[name] = str ? r.string() : r.bytes();
      };
    }
    case "message": {
      const { name, decode, store, map, repeated } = f;
      return (r, t, ctx) => {
        r.expect(WIRE_LEN);
        const v = decode(r.message(), ctx);
        if (store) store(t as T, v as never);
        else if (map) {
          const [key, value] = v as [string, unknown];
          (t[name] as Record<string, unknown>)[key] = value;
        } else if (repeated) (t[name] as unknown[]).push(v);
        else t[name] = v;
      };
    }
    case "float32s":
    case "float64s": {
      const { name, kind } = f;
      return (r, t) => readFloatRun(r, t[name] as (Float32Array | Float64Array)[], kind, name);
    }
    case "int64s": {
      const { name } = f;
      return (r, t) => readInt64Run(r, t[name] as Int64Run[]);
    }
    case "ignored":
      return (r) => r.skip();
  }
}

/**
 * Appends one float/double field: a single 32/64-bit value, or a packed run copied into a
 * fresh aligned array. A packed run of the wrong length is {@link Corrupt}, naming the
 * field as onnx.proto does (`floatData` → `float_data`).
 */
function readFloatRun(
  r: ProtoReader,
  out: (Float32Array | Float64Array)[],
  kind: "float32s" | "float64s",
  name: string,
): void {
  const single = kind === "float32s";
  if (r.wire === (single ? WIRE_FIXED32 : WIRE_FIXED64)) {
    out.push(single ? Float32Array.of(r.float()) : Float64Array.of(r.double()));
    return;
  }
  r.expect(WIRE_LEN);
  const b = r.bytes();
  const size = single ? 4 : 8;
  if (b.length % size !== 0) {
    const field = name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
    throw new Corrupt(`packed ${field} of ${b.length} bytes`);
  }
  out.push(single ? packedFloat32(b) : new Float64Array(b.slice().buffer));
}

/** Appends one repeated int64 field (packed or not) as raw 32-bit halves. */
function readInt64Run(r: ProtoReader, out: Int64Run[]): void {
  const halves: number[] = [];
  const one = (rr: ProtoReader) => {
    const [lo, hi] = rr.varintHalves();
    halves.push(lo, hi);
    return 0;
  };
  r.repeatedVarint([], one);
  out.push({ halves: Uint32Array.from(halves), count: halves.length / 2 });
}
