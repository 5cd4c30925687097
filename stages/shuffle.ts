/**
 * Shuffle stage: a fresh seeded permutation of the file list every epoch, applied to file
 * entries before decoding (never to a buffer of decoded images).
 */
import { mixSeed, Random } from "./random.ts";
import type { FileEntry } from "./types.ts";

/** The permutation of 0..n-1 used for `seed` at `epoch` (Fisher–Yates). */
export function permutation(n: number, seed: number, epoch: number): Uint32Array {
  const rng = new Random(mixSeed(seed, epoch, 0x5f5));
  const p = new Uint32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const t = p[i];
    p[i] = p[j];
    p[j] = t;
  }
  return p;
}

/** A shuffled copy of `items` for `seed` at `epoch`. */
export function shuffleFiles<T>(items: readonly T[], seed: number, epoch: number): T[] {
  const p = permutation(items.length, seed, epoch);
  return Array.from(p, (i) => items[i]);
}

/** Options for the shuffle stage. */
export interface ShuffleOptions {
  seed: number;
  epoch: number;
}

/**
 * Stage: collect the file entries of one epoch and emit them in a seeded random order.
 * It holds only the list of files. (`fileSource` in load.ts can shuffle without a stage.)
 */
export function shuffle(options: ShuffleOptions): TransformStream<FileEntry, FileEntry> {
  const all: FileEntry[] = [];
  return new TransformStream({
    transform(entry) {
      all.push(entry);
    },
    flush(controller) {
      for (const e of shuffleFiles(all, options.seed, options.epoch)) controller.enqueue(e);
    },
  });
}
