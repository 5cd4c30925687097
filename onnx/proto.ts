/**
 * A minimal protocol-buffers wire-format decoder: enough to read ONNX files without a
 * generated schema. It never copies: length-delimited fields come back as `subarray`
 * views over the input bytes, so a caller decides what (and when) to copy.
 *
 * @module
 */

/** Wire type 0: varint (int32, int64, uint64, bool, enum). */
export const WIRE_VARINT = 0;
/** Wire type 1: 64-bit little-endian (fixed64, sfixed64, double). */
export const WIRE_FIXED64 = 1;
/** Wire type 2: length-delimited (string, bytes, messages, packed repeated fields). */
export const WIRE_LEN = 2;
/** Wire type 5: 32-bit little-endian (fixed32, sfixed32, float). */
export const WIRE_FIXED32 = 5;

/**
 * Thrown when bytes are not valid protobuf. `truncated` is true when a field runs past the
 * end of the bytes it was read from (the usual sign of a cut-off file); `offset` is the
 * absolute byte offset in the buffer where the problem was found.
 */
export class ProtoError extends Error {
  /** True when a field runs past the end of its enclosing bytes. */
  readonly truncated: boolean;
  /** Absolute byte offset in the underlying buffer. */
  readonly offset: number;
  /** Creates the error; `message` should be a short phrase without the offset. */
  constructor(message: string, offset: number, truncated: boolean) {
    super(`${message} at byte ${offset}`);
    this.name = "ProtoError";
    this.truncated = truncated;
    this.offset = offset;
  }
}

const TWO_32 = 4294967296;
const TEXT = new TextDecoder("utf-8");

/** Name of a wire type, for messages. */
export function wireTypeName(wire: number): string {
  switch (wire) {
    case WIRE_VARINT:
      return "varint";
    case WIRE_FIXED64:
      return "64-bit";
    case WIRE_LEN:
      return "length-delimited";
    case WIRE_FIXED32:
      return "32-bit";
    default:
      return `invalid wire type ${wire}`;
  }
}

/**
 * Sequential reader over one message's bytes. `buf` is the whole underlying buffer and
 * [`pos`, `end`) the message's range in it, so offsets in errors are absolute.
 */
export class ProtoReader {
  /** The underlying bytes (shared, never copied). */
  readonly buf: Uint8Array;
  /** Current absolute read position. */
  pos: number;
  /** Absolute end of this message (exclusive). */
  readonly end: number;
  /** Field number of the last tag read by {@link ProtoReader.tag}. */
  field = 0;
  /** Wire type of the last tag read by {@link ProtoReader.tag}. */
  wire = 0;
  /** Absolute offset of the last tag read. */
  tagOffset = 0;

  /** Reads `buf[start, end)`; `end` defaults to the buffer's length. */
  constructor(buf: Uint8Array, start = 0, end = buf.length) {
    this.buf = buf;
    this.pos = start;
    this.end = end;
  }

  /** Reads the next tag into `field`/`wire`; returns false at the end of the message. */
  tag(): boolean {
    if (this.pos >= this.end) return false;
    this.tagOffset = this.pos;
    const t = this.uint32();
    const field = Math.floor(t / 8);
    const wire = t & 7;
    if (field === 0) throw new ProtoError("field number 0", this.tagOffset, false);
    if (wire !== 0 && wire !== 1 && wire !== 2 && wire !== 5) {
      // Groups (3, 4) are deprecated and never used by ONNX; 6 and 7 do not exist.
      throw new ProtoError(`field ${field} has ${wireTypeName(wire)}`, this.tagOffset, false);
    }
    this.field = field;
    this.wire = wire;
    return true;
  }

  private truncatedAt(what: string): never {
    throw new ProtoError(`${what} runs past the end`, this.pos, true);
  }

  /** Reads a varint as two 32-bit halves [lo, hi] (unsigned). */
  private varint64(): [number, number] {
    const buf = this.buf;
    let lo = 0;
    let hi = 0;
    let shift = 0;
    let pos = this.pos;
    // low 28 bits
    for (; shift < 28; shift += 7) {
      if (pos >= this.end) this.truncatedAt("varint");
      const b = buf[pos++];
      lo |= (b & 0x7f) << shift;
      if (b < 0x80) {
        this.pos = pos;
        return [lo >>> 0, 0];
      }
    }
    // byte 5: 4 bits to lo, 3 bits to hi
    if (pos >= this.end) this.truncatedAt("varint");
    let b = buf[pos++];
    lo |= (b & 0x0f) << 28;
    hi = (b & 0x7f) >> 4;
    if (b < 0x80) {
      this.pos = pos;
      return [lo >>> 0, hi];
    }
    for (shift = 3; shift < 32; shift += 7) {
      if (pos >= this.end) this.truncatedAt("varint");
      b = buf[pos++];
      hi |= (b & 0x7f) << shift;
      if (b < 0x80) {
        this.pos = pos;
        return [lo >>> 0, hi >>> 0];
      }
    }
    throw new ProtoError("varint longer than 10 bytes", this.pos, false);
  }

  /** Reads a varint known to fit in 32 bits (tags, lengths); larger values throw. */
  uint32(): number {
    const start = this.pos;
    const [lo, hi] = this.varint64();
    if (hi !== 0) throw new ProtoError("varint exceeds 32 bits", start, false);
    return lo;
  }

  /** Reads an int32/enum varint (negative values are sign-extended to 10 bytes). */
  int32(): number {
    const [lo] = this.varint64();
    return lo | 0;
  }

  /** Reads a bool varint. */
  bool(): boolean {
    const [lo, hi] = this.varint64();
    return lo !== 0 || hi !== 0;
  }

  /**
   * Reads an int64 varint as a number (two's complement, signed). Exact for |v| <= 2^53;
   * larger magnitudes are rounded to the nearest double (for example INT64_MAX).
   */
  int64(): number {
    const [lo, hi] = this.varint64();
    return (hi | 0) * TWO_32 + lo;
  }

  /** Reads a uint64 varint as a number (exact up to 2^53). */
  uint64(): number {
    const [lo, hi] = this.varint64();
    return hi * TWO_32 + lo;
  }

  /** Reads an int64 varint as a bigint (exact). */
  int64Big(): bigint {
    const [lo, hi] = this.varint64();
    return BigInt.asIntN(64, (BigInt(hi) << 32n) | BigInt(lo));
  }

  /** Reads a varint as its raw two halves, for bulk copies into 64-bit typed arrays. */
  varintHalves(): [number, number] {
    return this.varint64();
  }

  /** Reads a 32-bit little-endian float. */
  float(): number {
    if (this.pos + 4 > this.end) this.truncatedAt("32-bit field");
    const v = new DataView(this.buf.buffer, this.buf.byteOffset + this.pos, 4).getFloat32(0, true);
    this.pos += 4;
    return v;
  }

  /** Reads a 64-bit little-endian double. */
  double(): number {
    if (this.pos + 8 > this.end) this.truncatedAt("64-bit field");
    const v = new DataView(this.buf.buffer, this.buf.byteOffset + this.pos, 8).getFloat64(0, true);
    this.pos += 8;
    return v;
  }

  /** Reads a length prefix and returns [start, end) absolute offsets of the payload. */
  lenRange(): [number, number] {
    const at = this.pos;
    const n = this.uint32();
    const start = this.pos;
    if (n > this.end - start) {
      throw new ProtoError(
        `field ${this.field} declares ${n} bytes but only ${this.end - start} remain`,
        at,
        true,
      );
    }
    this.pos = start + n;
    return [start, start + n];
  }

  /** Reads a length-delimited field as a view (no copy) over the underlying bytes. */
  bytes(): Uint8Array {
    const [s, e] = this.lenRange();
    return this.buf.subarray(s, e);
  }

  /** Reads a length-delimited field as UTF-8 text. */
  string(): string {
    const [s, e] = this.lenRange();
    return TEXT.decode(this.buf.subarray(s, e));
  }

  /** Reads a length-delimited field and returns a reader over its payload. */
  message(): ProtoReader {
    const [s, e] = this.lenRange();
    return new ProtoReader(this.buf, s, e);
  }

  /** Skips the value of the last tag read. */
  skip(): void {
    switch (this.wire) {
      case WIRE_VARINT:
        this.varint64();
        return;
      case WIRE_FIXED64:
        if (this.pos + 8 > this.end) this.truncatedAt("64-bit field");
        this.pos += 8;
        return;
      case WIRE_LEN:
        this.lenRange();
        return;
      case WIRE_FIXED32:
        if (this.pos + 4 > this.end) this.truncatedAt("32-bit field");
        this.pos += 4;
        return;
    }
  }

  /**
   * Appends a repeated varint field (packed or not) to `out` using `read` for each
   * element, handling both encodings as protobuf parsers must.
   */
  repeatedVarint<T>(out: T[], read: (r: ProtoReader) => T): void {
    if (this.wire === WIRE_VARINT) {
      out.push(read(this));
    } else if (this.wire === WIRE_LEN) {
      const inner = this.message();
      while (inner.pos < inner.end) out.push(read(inner));
    } else {
      throw new ProtoError(
        `field ${this.field} has ${wireTypeName(this.wire)}, expected varint`,
        this.tagOffset,
        false,
      );
    }
  }

  /** Appends a repeated float field (packed or not) to `out`. */
  repeatedFloat(out: number[]): void {
    this.#repeatedFixed(out, WIRE_FIXED32, 4, (r) => r.float(), "floats", "32-bit");
  }

  /** Appends a repeated double field (packed or not) to `out`. */
  repeatedDouble(out: number[]): void {
    this.#repeatedFixed(out, WIRE_FIXED64, 8, (r) => r.double(), "doubles", "64-bit");
  }

  /** A repeated fixed-width field: one value, or a packed run of `width`-byte values. */
  #repeatedFixed(
    out: number[],
    wire: number,
    width: number,
    read: (r: ProtoReader) => number,
    what: string,
    expected: string,
  ): void {
    if (this.wire === wire) {
      out.push(read(this));
    } else if (this.wire === WIRE_LEN) {
      const inner = this.message();
      if ((inner.end - inner.pos) % width !== 0) {
        throw new ProtoError(`packed ${what} of odd length`, inner.pos, false);
      }
      while (inner.pos < inner.end) out.push(read(inner));
    } else {
      throw new ProtoError(
        `field ${this.field} has ${wireTypeName(this.wire)}, expected ${expected}`,
        this.tagOffset,
        false,
      );
    }
  }

  /** Throws unless the last tag's wire type is `wire` (for fields of a known type). */
  expect(wire: number): void {
    if (this.wire !== wire) {
      throw new ProtoError(
        `field ${this.field} has ${wireTypeName(this.wire)}, expected ${wireTypeName(wire)}`,
        this.tagOffset,
        false,
      );
    }
  }
}

/**
 * Decodes a packed run of little-endian 32-bit floats into a new (aligned) Float32Array.
 * The bytes may sit at any offset; they are copied first.
 */
export function packedFloat32(bytes: Uint8Array): Float32Array {
  const out = new Float32Array(bytes.length >> 2);
  new Uint8Array(out.buffer).set(bytes.subarray(0, out.length * 4));
  return out;
}
