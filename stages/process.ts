/**
 * The per-sample work a decode worker runs on one file: read, decode, resize, normalize,
 * augment — the same functions as the separate stages, so results are identical whether
 * the work runs in a worker or as a chain of stages. The file's EXIF orientation is applied
 * after decoding, before the resize, unless `work.exif` is false.
 */
import { augmentImage } from "./augment.ts";
import { decodeAndResize, DecodeError } from "./codec.ts";
import { normalizeImage } from "./normalize.ts";
import { Rng } from "../core/random.ts";
import type { FloatImage, RawImage } from "./types.ts";
import type { Outcome, SampleWork } from "./workers/messages.ts";

/** Read and process one file; never throws: a bad file is an outcome with the reason. */
export async function processFile(
  path: string,
  work: SampleWork,
  seed: number,
): Promise<Outcome<RawImage | FloatImage>> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    return { ok: false, error: `unreadable (${(e as Error).message})` };
  }
  let raw: RawImage;
  try {
    raw = await decodeAndResize(bytes, work.size, { exif: work.exif });
  } catch (e) {
    return { ok: false, error: e instanceof DecodeError ? e.message : `cannot decode (${e})` };
  }
  if (!work.normalize && !work.augment) return { ok: true, value: raw };
  let img = normalizeImage(raw, work.normalize);
  if (work.augment) img = augmentImage(img, new Rng(seed), work.augment);
  return { ok: true, value: img };
}
