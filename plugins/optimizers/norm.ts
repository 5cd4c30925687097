/**
 * The global gradient norm of an optimizer chain that clips by it (`chain.ts`): partial
 * sums of squares per parameter window, then one finishing pass that writes the norm into a
 * 16-byte buffer the update kernels read as a uniform (a storage load costs the same in
 * every lane on software adapters) and the reduction writes as storage.
 *
 * @module
 */
import { type BufferWindow, gpu } from "../../core/gpu.ts";
import { NORM_PARTIALS, normFinish, sumSquaresPartial } from "../../core/ops/reduce.ts";
import type { ScalarRecords } from "./layout.ts";
import type { ParamEntry } from "./state.ts";

/** The reduction's buffers for `windows` parameter windows in all. */
export class GlobalNorm {
  #part: GPUBuffer | null = null;
  #norm: GPUBuffer | null = null;
  /** Bytes between two windows' partial sums (storage-offset aligned). */
  readonly stride: number;

  constructor(readonly windows: number) {
    const align = gpu().offsetAlign;
    this.stride = Math.ceil((NORM_PARTIALS * 4) / align) * align;
  }

  /**
   * Records the reduction over the `live` parameters' gradients as the links before the norm
   * link leave them (`value`: that WGSL, reading the record `r`, `gr` and `wt`).
   */
  record(live: ParamEntry[], records: ScalarRecords, value: string): void {
    const g = gpu(), bytes = this.stride * this.windows;
    if (!this.#part) {
      this.#part = g.acquire(bytes);
      this.#norm = g.device.createBuffer({
        size: 16,
        usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.STORAGE,
      });
    }
    g.clear(this.#part, 0, bytes);
    for (const e of live) {
      e.windows.forEach((w, j) => {
        sumSquaresPartial(w.size / 4, [
          ["r", records.binding(e.index)],
          ["gr", { buffer: e.p.grad!.buffer, ...w }],
          ["wt", { buffer: e.p.buffer, ...w }],
        ], {
          buffer: this.#part!,
          offset: (e.partBase + j) * this.stride,
          size: NORM_PARTIALS * 4,
        }, value);
      });
    }
    const total = this.windows * (this.stride / 4);
    normFinish({ buffer: this.#part, offset: 0, size: total * 4 }, total, {
      buffer: this.#norm!,
      offset: 0,
      size: 4,
    });
  }

  /** The norm's uniform binding for the update kernels (after `record`). */
  binding(): BufferWindow {
    return { buffer: this.#norm!, offset: 0, size: 16 };
  }

  /** Gives the buffers back (after submitting the commands recorded so far that read them). */
  dispose(): void {
    const g = gpu();
    if (this.#part) g.release(this.#part);
    if (this.#norm) {
      g.flush();
      this.#norm.destroy();
    }
    this.#part = this.#norm = null;
  }
}
