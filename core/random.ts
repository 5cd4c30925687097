/**
 * The one seeded generator of the project (xoshiro128**, seeded through SplitMix32) for
 * the engine (weight init, Dropout's mask keys) and the data stages (shuffle, augment,
 * splits), and `deriveSeed`, which gives every purpose and epoch its own stream. Its state
 * (four 32-bit words) can be saved and restored, so a run can be repeated exactly and a
 * resumed run continues the same sequence.
 */

/** One SplitMix32 step from `a`: [the next counter, the output]. */
function splitmix32(a: number): [number, number] {
  const z = (a + 0x9e3779b9) >>> 0;
  let t = z;
  t = Math.imul(t ^ (t >>> 16), 0x85ebca6b) >>> 0;
  t = Math.imul(t ^ (t >>> 13), 0xc2b2ae35) >>> 0;
  return [z, (t ^ (t >>> 16)) >>> 0];
}

/** Mixes integers (seed, epoch, stream …) into one 32-bit seed; order matters. */
export function mixSeed(...parts: number[]): number {
  let h = 0x811c9dc5;
  for (const p of parts) {
    h = splitmix32((h ^ (p >>> 0)) >>> 0)[1];
    h = (h ^ Math.imul(p | 0, 0x27d4eb2d)) >>> 0;
  }
  return h >>> 0;
}

/** The purposes that draw their own stream from a run's seed (tags mixed into the seed). */
export const STREAMS = {
  shuffle: 0x5f5,
  augment: 0xa06,
  split: 0x5b1,
  features: 0xfea,
  dropout: 0xd0d,
} as const;

/** A purpose with its own stream (see `STREAMS`). */
export type Stream = keyof typeof STREAMS;

/**
 * The seed of the `purpose` stream of `seed` at `index` (the epoch, or another index such
 * as a class; 0 for a per-run stream), so each purpose and epoch draws independent
 * numbers from one run seed. It is `mixSeed(seed, index, STREAMS[purpose])`.
 *
 * @example
 * const rng = new Rng(deriveSeed(seed, "shuffle", epoch));
 */
export function deriveSeed(seed: number, purpose: Stream, index = 0): number {
  return mixSeed(seed, index, STREAMS[purpose]);
}

/** A seeded pseudo-random generator with saveable state. */
export class Rng {
  #s: Uint32Array;

  /** Seeds the generator from a 32-bit integer. */
  constructor(seed = 0) {
    this.#s = new Uint32Array(4);
    let z = seed >>> 0;
    for (let k = 0; k < 4; k++) [z, this.#s[k]] = splitmix32(z);
    if (this.#s.every((v) => v === 0)) this.#s[0] = 1;
  }

  /** A generator that continues from a saved `state()`. */
  static fromState(state: readonly number[]): Rng {
    const r = new Rng();
    r.setState(state);
    return r;
  }

  /** The next 32-bit unsigned integer. */
  nextU32(): number {
    const s = this.#s;
    const r = Math.imul(rotl(Math.imul(s[1], 5) >>> 0, 7), 9) >>> 0;
    const t = (s[1] << 9) >>> 0;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return r;
  }

  /** A float in [0, 1). */
  next(): number {
    return this.nextU32() / 4294967296;
  }

  /** A float in [lo, hi). */
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }

  /** A standard normal sample (Box–Muller). */
  normal(): number {
    const u = 1 - this.next(), v = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  /** Shuffles `items` in place (Fisher–Yates, from the last index down) and returns it. */
  shuffle<A extends { length: number; [i: number]: unknown }>(items: A): A {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = items[i];
      items[i] = items[j];
      items[j] = t;
    }
    return items;
  }

  /** The state (four 32-bit words), for checkpoints. */
  state(): number[] {
    return [...this.#s];
  }

  /** Restores a state from `state()`; throws on anything but four 32-bit words, not all 0. */
  setState(s: readonly number[]): void {
    const ok = Array.isArray(s) && s.length === 4 &&
      s.every((v) => Number.isInteger(v) && v >= 0 && v <= 0xffffffff) && s.some((v) => v !== 0);
    if (!ok) {
      throw new Error(
        `Rng: a state is four unsigned 32-bit integers, not all 0; got ${JSON.stringify(s)}`,
      );
    }
    this.#s.set(s);
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}
