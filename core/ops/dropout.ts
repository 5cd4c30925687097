/**
 * Dropout with masks drawn on the GPU, so nothing is uploaded or read back per step and no
 * mask is stored for backward.
 *
 * A `DropoutGenerator` draws one 32-bit key per training forward from the project's one
 * generator (`Rng` of `core/random.ts`, xoshiro128**). Its four state words live in a
 * small GPU buffer too: one tiny dispatch runs the same xoshiro128** step there, writing
 * the key into a fresh one-element tensor, while the CPU `Rng` takes the same step, so the
 * two stay in lockstep, `state()` needs no readback and `setState()` resumes the exact
 * sequence (the GPU copy is uploaded again only when the CPU state no longer matches it).
 * Element i is kept when
 *   u = (pcg(i + key) >> 8) / 2²⁴  ≥  p
 * and scaled by 1/(1 − p). Backward recomputes the same mask from the saved key.
 * pcg is Jarzynski & Olano's PCG hash (u32 arithmetic wraps), a counter-based hash of the
 * key, not a second generator:
 *   s = v·747796405 + 2891336453;  w = ((s >> ((s >> 28) + 4)) ^ s)·277803737;  (w >> 22) ^ w
 */
import { record } from "../tape.ts";
import { gpu } from "../gpu.ts";
import { deriveSeed, Rng } from "../random.ts";
import { empty, type Tensor } from "../tensor.ts";
import { decls, grid, lit, main1d, run } from "./kernel.ts";

const PCG = `fn pcg(v: u32) -> u32 {
  let s = v * 747796405u + 2891336453u;
  let w = ((s >> ((s >> 28u) + 4u)) ^ s) * 277803737u;
  return (w >> 22u) ^ w;
}`;

/** One xoshiro128** step on the GPU copy of the state (as `Rng.nextU32`): key = output. */
const DRAW = `@group(0) @binding(0) var<storage, read_write> st: array<u32>;
@group(0) @binding(1) var<storage, read_write> key: array<u32>;
fn rotl(x: u32, k: u32) -> u32 { return (x << k) | (x >> (32u - k)); }
@compute @workgroup_size(1)
fn main() {
  var s0 = st[0];
  var s1 = st[1];
  var s2 = st[2];
  var s3 = st[3];
  key[0] = rotl(s1 * 5u, 7u) * 9u;
  let t = s1 << 9u;
  s2 = s2 ^ s0;
  s3 = s3 ^ s1;
  s1 = s1 ^ s2;
  s0 = s0 ^ s3;
  s2 = s2 ^ t;
  s3 = rotl(s3, 11u);
  st[0] = s0;
  st[1] = s1;
  st[2] = s2;
  st[3] = s3;
}`;

/**
 * A seeded source of dropout mask keys: an `Rng` mirrored on the GPU and advanced there
 * per draw.
 *
 * @example
 * const gen = new DropoutGenerator(42);
 * const y = dropout(x, 0.5, gen); // a fresh mask every call
 * const saved = gen.state();      // the Rng's four state words
 */
export class DropoutGenerator {
  /** The CPU generator whose sequence the keys follow. */
  readonly rng: Rng;
  #buf: Tensor | null = null;
  /** The state the GPU copy holds once the recorded draws have run. */
  #onGpu: number[] | null = null;

  /** From a seed (its "dropout" stream, see `deriveSeed`) or a generator to draw from. */
  constructor(seed: number | Rng = 0) {
    this.rng = typeof seed === "number" ? new Rng(deriveSeed(seed, "dropout")) : seed;
  }

  /** The state (the generator's four 32-bit words), for checkpoints. */
  state(): number[] {
    return this.rng.state();
  }

  /** Restores a state from `state()`, so the next mask is the one that state would draw. */
  setState(s: readonly number[]): void {
    this.rng.setState(s);
  }

  /** A new one-element tensor holding the next key (u32 bits); advances the state. */
  nextKey(): Tensor {
    if (!this.#buf || this.#buf.disposed) {
      this.#buf = empty([4]).keep();
      this.#onGpu = null;
    }
    const now = this.rng.state();
    if (!this.#onGpu || now.some((v, k) => v !== this.#onGpu![k])) {
      gpu().upload(this.#buf.buffer, Uint32Array.from(now));
    }
    const key = empty([1]);
    run(DRAW, [this.#buf, key], [1]);
    this.rng.nextU32();
    this.#onGpu = this.rng.state();
    return key;
  }

  /** Releases the GPU state (it is recreated from the CPU generator if used again). */
  dispose(): void {
    this.#buf?.dispose();
    this.#buf = null;
    this.#onGpu = null;
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
