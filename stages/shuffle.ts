/**
 * Shuffle stage: a fresh seeded permutation of the file list every epoch, applied to file
 * entries before decoding (never to a buffer of decoded images).
 */
import { deriveSeed, Rng } from "../core/random.ts";
import type { FileEntry } from "./types.ts";

/** The permutation of 0..n-1 used for `seed` at `epoch` (Fisher–Yates, the "shuffle" stream). */
export function permutation(n: number, seed: number, epoch: number): Uint32Array {
  const p = new Uint32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  return new Rng(deriveSeed(seed, "shuffle", epoch)).shuffle(p);
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
