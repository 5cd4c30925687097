/** The messages between the decode pool and its workers, and the outcome of one job. */
import type { AugmentOptions } from "../augment.ts";
import type { NormalizeOptions } from "../normalize.ts";
import type { FloatImage, RawImage } from "../types.ts";

/** What a worker does to each file after decoding (all optional, all serializable). */
export interface SampleWork {
  /** Resize to `width` × `height` as the resize stage does (alpha dropped unless kept). */
  size?: { width: number; height: number; keepAlpha?: boolean };
  /** Apply the EXIF orientation (default true); false keeps the pixels as stored. */
  exif?: boolean;
  /** Normalize to planar floats with these options, as the normalize stage does. */
  normalize?: NormalizeOptions;
  /** Augmentations, without the generator: each job carries its own seed. */
  augment?: Omit<AugmentOptions, "rng">;
}

/** A job for a decode worker. */
export interface DecodeRequest {
  id: number;
  path: string;
  work: SampleWork;
  /** Seed of this sample's augmentation generator. */
  seed: number;
}

/** A decode worker's answer: pixels, or the reason the file cannot be used. */
export interface DecodeResponse {
  id: number;
  image?: RawImage | FloatImage;
  error?: string;
}

/** The outcome of one job: never a rejected promise, so queued failures cannot go unhandled. */
export type Outcome<O> = { ok: true; value: O } | { ok: false; error: string };
