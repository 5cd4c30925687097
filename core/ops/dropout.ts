/**
 * Dropout with masks drawn on the GPU from a counter-based hash, so nothing is uploaded or
 * read back per step and no mask is stored for backward.
 *
 * A `DropoutGenerator` holds (seed, step) in a small GPU buffer. Each training forward
 * draws a key: one tiny dispatch copies key = pcg(step + pcg(seed)) into a fresh
 * one-element tensor and advances step by one, on the GPU. Element i is kept when
 *   u = (pcg(i + key) >> 8) / 2²⁴  ≥  p
 * and scaled by 1/(1 − p). Backward recomputes the same mask from the saved key.
 * The CPU mirrors the step count, so `state()` needs no readback and `setState()` resumes
 * the exact sequence. pcg is Jarzynski & Olano's PCG hash (u32 arithmetic wraps):
 *   s = v·747796405 + 2891336453;  w = ((s >> ((s >> 28) + 4)) ^ s)·277803737;  (w >> 22) ^ w
 */
import { record } from "../autograd.ts";
import { gpu } from "../gpu.ts";
import { empty, type Tensor } from "../tensor.ts";
import { decls, grid, lit, main1d, run } from "./kernel.ts";

const PCG = `fn pcg(v: u32) -> u32 {
  let s = v * 747796405u + 2891336453u;
  let w = ((s >> ((s >> 28u) + 4u)) ^ s) * 277803737u;
  return (w >> 22u) ^ w;
}`;

/** The (seed, step) of a generator: the next mask drawn is a function of these alone. */
export interface DropoutState {
  seed: number;
  step: number;
}

/**
 * A seeded source of dropout masks whose state lives on the GPU (advanced there per draw)
 * and is mirrored on the CPU for checkpoints.
 *
 * @example
 * const gen = new DropoutGenerator(42);
 * const y = dropout(x, 0.5, gen); // a fresh mask every call
 * const saved = gen.state();      // { seed: 42, step: 1 }
 */
export class DropoutGenerator {
  #seed: number;
  #step: number;
  #buf: Tensor | null = null;

  constructor(seed = 0, step = 0) {
    this.#seed = seed >>> 0;
    this.#step = step >>> 0;
  }

  /** The state: the seed, and how many masks were drawn. */
  state(): DropoutState {
    return { seed: this.#seed, step: this.#step };
  }

  /** Restores a state from `state()`, so the next mask is the one that state would draw. */
  setState(s: DropoutState): void {
    this.#seed = s.seed >>> 0;
    this.#step = s.step >>> 0;
    if (this.#buf) this.#upload();
  }

  #upload(): void {
    gpu().upload(this.#buf!.buffer, Uint32Array.of(this.#seed, this.#step));
  }

  /** A new one-element tensor holding the next key (u32 bits); advances the state. */
  nextKey(): Tensor {
    if (!this.#buf || this.#buf.disposed) {
      this.#buf = empty([2]).keep();
      this.#upload();
    }
    const key = empty([1]);
    run(
      `@group(0) @binding(0) var<storage, read_write> st: array<u32>;
@group(0) @binding(1) var<storage, read_write> key: array<u32>;
${PCG}
@compute @workgroup_size(1)
fn main() {
  key[0] = pcg(st[1] + pcg(st[0]));
  st[1] = st[1] + 1u;
}`,
      [this.#buf, key],
      [1],
    );
    this.#step = (this.#step + 1) >>> 0;
    return key;
  }

  /** Releases the GPU state (it is recreated from the CPU mirror if used again). */
  dispose(): void {
    this.#buf?.dispose();
    this.#buf = null;
  }
}

/** out = keep(i) ? v·scale : 0 over `n` elements, mask from `key`; `maskOnly` writes 0/1. */
function maskKernel(
  v: Tensor | null,
  key: Tensor,
  out: Tensor,
  p: number,
  maskOnly: boolean,
): void {
  const g = gpu();
  const windows = g.windows(out.bytes);
  const threshold = Math.min(2 ** 24, Math.ceil(p * 2 ** 24)); // keep ⇔ (h >> 8) ≥ threshold
  for (const w of windows) {
    const n = w.size / 4;
    const off = w.offset / 4;
    const code = `@group(0) @binding(0) var<storage, read> key: array<u32>;
${maskOnly ? "" : "@group(0) @binding(1) var<storage, read> v: array<f32>;"}
@group(0) @binding(${maskOnly ? 1 : 2}) var<storage, read_write> out: array<f32>;
${PCG}
${main1d(n)}
  let keep = (pcg(i + ${off}u + key[0]) >> 8u) >= ${threshold}u;
  out[i] = ${maskOnly ? "select(0.0, 1.0, keep)" : `select(0.0, v[i] * ${lit(1 / (1 - p))}, keep)`};
}`;
    const win = (t: Tensor) => windows.length === 1 ? t : { buffer: t.buffer, ...w };
    run(code, maskOnly ? [key, win(out)] : [key, win(v!), win(out)], grid(n));
  }
}

function checkP(p: number): void {
  if (!(p >= 0 && p <= 1)) throw new Error(`dropout: p must be in [0, 1], got ${p}`);
}

/**
 * Training-mode dropout: zeroes each element with probability `p` (a fresh mask from
 * `gen` per call) and scales the rest by 1/(1 − p). p = 0 returns `x` itself; p = 1 zeros.
 * For eval mode, do not call it (dropout is the identity).
 */
export function dropout(x: Tensor, p: number, gen: DropoutGenerator): Tensor {
  checkP(p);
  if (p === 0) return x;
  const y = empty(x.shape);
  if (x.size === 0) return y;
  if (p === 1) {
    gpu().clear(y.buffer, 0, Math.ceil(y.bytes / 4) * 4);
    return record("dropout", y, [x], () => [null]);
  }
  const key = gen.nextKey();
  maskKernel(x, key, y, p, false);
  const out = record("dropout", y, [x], (g, saved) => {
    const dx = empty(x.shape);
    maskKernel(g, saved[1], dx, p, false);
    return [dx];
  }, [key]);
  key.dispose();
  return out;
}

/**
 * The 0/1 mask (float32) that `dropout` would apply with `key` (from `gen.nextKey()`),
 * for inspection and ONNX's optional mask output.
 */
export function dropoutMask(shape: readonly number[], p: number, key: Tensor): Tensor {
  checkP(p);
  const m = empty(shape);
  if (m.size > 0) maskKernel(null, key, m, p, true);
  return m;
}

/**
 * Dropout with and returning the mask: `{ y, mask }`, y = x·mask/(1 − p) (the mask as
 * float32 0/1), like ONNX's Dropout with its mask output.
 */
export function dropoutWithMask(
  x: Tensor,
  p: number,
  gen: DropoutGenerator,
): { y: Tensor; mask: Tensor } {
  checkP(p);
  const key = gen.nextKey();
  const mask = dropoutMask(x.shape, p, key);
  key.dispose();
  return { y: applyDropoutMask(x, mask, p), mask };
}

/** y = x·mask/(1 − p) for a given 0/1 mask of x's shape (gradient g·mask/(1 − p)). */
export function applyDropoutMask(x: Tensor, mask: Tensor, p: number): Tensor {
  checkP(p);
  if (mask.size !== x.size) {
    throw new Error(`dropout: mask [${mask.shape}] does not match input [${x.shape}]`);
  }
  const scale = p === 1 ? 0 : 1 / (1 - p);
  const apply = (v: Tensor, m: Tensor) => {
    const out = empty(x.shape);
    if (out.size === 0) return out;
    const g = gpu();
    for (const w of g.windows(out.bytes)) {
      const n = w.size / 4;
      const one = g.windows(out.bytes).length === 1;
      const win = (t: Tensor) => one ? t : { buffer: t.buffer, ...w };
      run(
        `${decls(["v", "m", "out"])}
${main1d(n)}
  out[i] = select(0.0, v[i] * ${lit(scale)}, m[i] != 0.0);
}`,
        [win(v), win(m), win(out)],
        grid(n),
      );
    }
    return out;
  };
  const y = apply(x, mask);
  return record("dropoutMask", y, [x], (g, saved) => [apply(g, saved[1])], [mask]);
}
