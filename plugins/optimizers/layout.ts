/**
 * The layouts an optimizer chain fixes once: its hyper-parameter names and defaults, its
 * per-element state slots (and which link needs the global gradient norm), and the scalar
 * records (one per parameter: `[lr, link 0's scalars…, link 1's…]`, at aligned offsets in
 * one buffer the update kernels read as a uniform buffer, uploaded only where a value
 * changed).
 *
 * @module
 */
import { gpu } from "../../core/gpu.ts";
import type { Link, ScalarContext } from "./link.ts";

/** One state slot of a chain: its link, its name there and its saved key (`adam.m`). */
export interface SlotKey {
  link: number;
  name: string;
  key: string;
  init: number;
}

/** Every link's hyper-parameters with their defaults (`lr` first); names must be unique. */
export function hyperDefaults(links: readonly Link[]): Record<string, number> {
  const defaults: Record<string, number> = { lr: 0.001 };
  for (const l of links) {
    for (const [k, v] of Object.entries(l.hyper)) {
      if (k in defaults && k !== "lr") {
        throw new Error(
          `Optimizer: hyper-parameter "${k}" of link "${l.name}" is also used by another link`,
        );
      }
      defaults[k] = v;
    }
  }
  return defaults;
}

/**
 * The chain's state slots in order, and the index of its global-norm link (-1 if none).
 * Throws on a repeated slot key, two global-norm links, or stateful links before one.
 */
export function slotLayout(links: readonly Link[]): { slots: SlotKey[]; normLink: number } {
  const slots: SlotKey[] = [];
  const seen = new Set<string>();
  let normLink = -1;
  links.forEach((l, k) => {
    for (const [name, init] of Object.entries(l.init)) {
      const key = `${l.name}.${name}`;
      if (seen.has(key)) throw new Error(`Optimizer: two links keep state "${key}"`);
      seen.add(key);
      slots.push({ link: k, name, key, init });
    }
    if (!l.globalNorm) return;
    if (normLink >= 0) throw new Error("Optimizer: only one global-norm link per chain");
    normLink = k;
    const before = links.slice(0, k).filter((b) => Object.keys(b.init).length > 0);
    if (before.length) {
      throw new Error(
        `Optimizer: "${l.name}" needs the global gradient norm, so the links before it must ` +
          `be stateless; move it before ${before.map((b) => `"${b.name}"`).join(", ")}`,
      );
    }
  });
  return { slots, normLink };
}

/**
 * The scalar records of `count` parameters, mirrored on the CPU and in one GPU buffer. The
 * update kernels read a record as a uniform buffer (`array<vec4<f32>, vec4s>`): on Mesa's
 * software adapters a storage load costs the same in every lane even when all lanes read one
 * value, and Adam's seven record reads an element took half its update (16 M parameters on
 * lavapipe: 193 ms through storage, 100 ms through a uniform buffer, 87 ms with no record
 * read at all). The buffer is a storage buffer too, for the global norm's reduction.
 */
export class ScalarRecords {
  /** Per link: scalar name → float index within a record. */
  readonly index: Map<string, number>[] = [];
  /** Floats used per record. */
  readonly floats: number;
  /** Bytes between records (a multiple of the storage and uniform offset alignments). */
  readonly stride: number;
  #rec: Float32Array;
  #sent: Float32Array;
  #buf: GPUBuffer | null = null;

  /** Lays out the records of `links` for `count` parameters (`probe` names the scalars). */
  constructor(readonly links: readonly Link[], probe: ScalarContext, count: number) {
    let n = 1;
    for (const l of links) {
      const m = new Map<string, number>();
      for (const k of Object.keys(l.scalars(probe))) m.set(k, n++);
      this.index.push(m);
    }
    const g = gpu();
    // Both alignments are powers of two, so the larger is a multiple of the other.
    const align = Math.max(g.offsetAlign, g.device.limits.minUniformBufferOffsetAlignment);
    this.floats = n;
    this.stride = Math.ceil((n * 4) / align) * align;
    const len = (this.stride / 4) * Math.max(1, count);
    this.#rec = new Float32Array(len);
    this.#sent = new Float32Array(len).fill(NaN);
  }

  /** Computes parameter `k`'s record for context `c` (its step and group values). */
  fill(k: number, c: ScalarContext): void {
    const off = (k * this.stride) / 4;
    this.#rec[off] = c.lr;
    this.links.forEach((l, j) => {
      const vals = l.scalars(c);
      for (const [name, at] of this.index[j]) {
        const v = vals[name];
        if (typeof v !== "number") throw new Error(`link "${l.name}" gave no scalar "${name}"`);
        this.#rec[off + at] = v;
      }
    });
  }

  /** Vec4s of one record's binding: a kernel declares it `array<vec4<f32>, vec4s>`. */
  get vec4s(): number {
    return Math.ceil(this.floats / 4);
  }

  /** Vec4s of `all()` when it fits one uniform binding, else 0 (read it as storage). */
  get allVec4s(): number {
    const fits = this.#rec.byteLength <= gpu().device.limits.maxUniformBufferBindingSize;
    return fits ? this.#rec.length / 4 : 0;
  }

  /** Uploads the span of records that changed since the last upload (nothing if none). */
  upload(): void {
    const g = gpu();
    // Not from the pool: its buffers are storage buffers only.
    this.#buf ??= g.device.createBuffer({
      size: this.#rec.byteLength,
      usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST,
    });
    let lo = -1, hi = -1;
    for (let k = 0; k < this.#rec.length; k++) {
      if (!Object.is(this.#rec[k], this.#sent[k])) {
        if (lo < 0) lo = k;
        hi = k;
      }
    }
    if (lo < 0) return;
    g.upload(this.#buf, this.#rec.subarray(lo, hi + 1), lo * 4);
    this.#sent.set(this.#rec.subarray(lo, hi + 1), lo);
  }

  /** The binding of parameter `k`'s record (after the first `upload()`). */
  binding(k: number): { buffer: GPUBuffer; offset: number; size: number } {
    return { buffer: this.#buf!, offset: k * this.stride, size: this.vec4s * 16 };
  }

  /** The binding of every record (after the first `upload()`); record k at float k·stride/4. */
  all(): { buffer: GPUBuffer; offset: number; size: number } {
    return { buffer: this.#buf!, offset: 0, size: this.#rec.byteLength };
  }

  /** Destroys the GPU buffer (after submitting the commands recorded so far that read it). */
  dispose(): void {
    if (this.#buf) {
      gpu().flush();
      this.#buf.destroy();
    }
    this.#buf = null;
  }
}
