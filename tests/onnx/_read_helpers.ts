/**
 * Test helper (not a test) for the reader tests (`read_test.ts`, `read_tensor_test.ts`,
 * `read_errors_test.ts`): assertions, the python3-onnx references
 * (fixtures/onnx/make_reader_refs.py → fixtures/onnx/reader_refs.json), a tiny protobuf
 * encoder for crafted inputs, and value comparisons.
 *
 * @module
 */

import { assert, assertEquals, assertRejects, assertThrows } from "../assert.ts";
import { DataType, type OnnxTensor, tensorSize } from "../../onnx/read.ts";
import { ensureOnnxTestdata } from "../onnx_vectors.ts";

// The assertions are the tests' one module's.
export { assert, assertEquals, assertRejects, assertThrows };

export const FIXTURES = new URL("../../fixtures/onnx/", import.meta.url).pathname;
// deno-lint-ignore no-explicit-any
export const REFS: any = JSON.parse(Deno.readTextFileSync(`${FIXTURES}reader_refs.json`));
export const ROOT = ensureOnnxTestdata();

// ---------------------------------------------------------------------------------------
// A tiny protobuf encoder, to craft inputs the fixtures do not cover.

export class Enc {
  parts: Uint8Array[] = [];
  varint(v: bigint | number): this {
    let x = BigInt.asUintN(64, BigInt(v));
    const out: number[] = [];
    while (x >= 0x80n) {
      out.push(Number(x & 0x7fn) | 0x80);
      x >>= 7n;
    }
    out.push(Number(x));
    this.parts.push(Uint8Array.from(out));
    return this;
  }
  tag(field: number, wire: number): this {
    return this.varint(field * 8 + wire);
  }
  int(field: number, v: bigint | number): this {
    return this.tag(field, 0).varint(v);
  }
  bytes(field: number, b: Uint8Array): this {
    this.tag(field, 2).varint(b.length);
    this.parts.push(b);
    return this;
  }
  str(field: number, s: string): this {
    return this.bytes(field, new TextEncoder().encode(s));
  }
  msg(field: number, e: Enc): this {
    return this.bytes(field, e.done());
  }
  float(field: number, v: number): this {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, v, true);
    this.tag(field, 5);
    this.parts.push(b);
    return this;
  }
  done(): Uint8Array {
    let n = 0;
    for (const p of this.parts) n += p.length;
    const out = new Uint8Array(n);
    let o = 0;
    for (const p of this.parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  }
}

/** A model with one Identity node over the given TensorProto initializers. */
export function craftModel(inits: Enc[], node?: Enc): Uint8Array {
  const g = new Enc();
  g.msg(1, node ?? new Enc().str(1, "x").str(2, "y").str(4, "Identity"));
  g.str(2, "crafted");
  for (const t of inits) g.msg(5, t);
  g.msg(11, new Enc().str(1, "x"));
  g.msg(12, new Enc().str(1, "y"));
  return new Enc().int(1, 8).str(2, "test").msg(7, g).msg(8, new Enc().str(1, "").int(2, 17))
    .done();
}

export function rawFloats(values: number[]): Uint8Array {
  return new Uint8Array(Float32Array.from(values).buffer);
}

// deno-lint-ignore no-explicit-any
export function jsonValue(v: any): number | bigint | string {
  if (v === "NaN") return NaN;
  if (v === "Infinity") return Infinity;
  if (v === "-Infinity") return -Infinity;
  return v;
}

export function same(actual: unknown, expected: unknown, where: string) {
  if (typeof actual === "bigint") {
    assertEquals(actual, BigInt(expected as string), where);
  } else if (typeof actual === "number" && Number.isNaN(actual)) {
    assert(Number.isNaN(jsonValue(expected)), `${where}: got NaN, expected ${expected}`);
  } else {
    assertEquals(actual, jsonValue(expected), where);
  }
}

export function checkValues(t: OnnxTensor, expected: unknown[], where: string, from = 0) {
  for (let i = 0; i < expected.length; i++) {
    same(t.data[from + i], expected[i], `${where}[${from + i}]`);
  }
}

export function storedLength(t: OnnxTensor): number {
  const n = tensorSize(t.dims);
  return t.dataType === DataType.COMPLEX64 || t.dataType === DataType.COMPLEX128 ? 2 * n : n;
}

export function oneLine(e: Error, file: string) {
  assert(!e.message.includes("\n"), `message has several lines: ${e.message}`);
  assert(e.message.startsWith(file), `message does not name ${file}: ${e.message}`);
}
