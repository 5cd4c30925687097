/**
 * Normalize stage: 8-bit HWC pixels to planar float CHW, scaled to [0, 1] and then
 * standardized per channel (ImageNet's mean and std by default). Alpha is dropped;
 * grey becomes three channels for RGB models (and RGB becomes grey for 1-channel models).
 */
import type { FloatImage, RawImage, Sample } from "./types.ts";

/** ImageNet's per-channel mean (RGB). */
export const IMAGENET_MEAN = [0.485, 0.456, 0.406];
/** ImageNet's per-channel standard deviation (RGB). */
export const IMAGENET_STD = [0.229, 0.224, 0.225];

/** Options for normalize. */
export interface NormalizeOptions {
  /** Output channels: 3 (default) or 1. */
  channels?: 1 | 3;
  /** Per-channel mean in [0, 1] units (default ImageNet's for 3 channels, 0 for 1). */
  mean?: number[];
  /** Per-channel std (default ImageNet's for 3 channels, 1 for 1). */
  std?: number[];
}

function perChannel(v: number[] | undefined, fallback: number[], n: number): number[] {
  const src = v ?? fallback;
  if (src.length === n) return src;
  if (src.length === 1) return new Array(n).fill(src[0]);
  throw new Error(`normalize: expected ${n} values, got ${src.length}`);
}

/** Convert one 8-bit image to a normalized float CHW image. */
export function normalizeImage(img: RawImage, options: NormalizeOptions = {}): FloatImage {
  const outC = options.channels ?? 3;
  const mean = perChannel(options.mean, outC === 3 ? IMAGENET_MEAN : [0], outC);
  const std = perChannel(options.std, outC === 3 ? IMAGENET_STD : [1], outC);
  const hw = img.width * img.height;
  const inC = img.channels;
  const colour = inC >= 3; // 1,2: grey (+alpha); 3,4: RGB (+alpha)
  const src = img.data;
  const out = new Float32Array(outC * hw);
  const luts = mean.map((m, c) => {
    const lut = new Float32Array(256);
    for (let v = 0; v < 256; v++) lut[v] = (v / 255 - m) / std[c];
    return lut;
  });
  if (outC === 3) {
    for (let c = 0; c < 3; c++) {
      const lut = luts[c];
      const off = colour ? c : 0;
      const base = c * hw;
      for (let i = 0, s = off; i < hw; i++, s += inC) out[base + i] = lut[src[s]];
    }
  } else {
    const lut = luts[0];
    for (let i = 0, s = 0; i < hw; i++, s += inC) {
      // Pillow's "L" conversion: ITU-R 601-2 luma, rounded.
      const v = colour
        ? (src[s] * 19595 + src[s + 1] * 38470 + src[s + 2] * 7471 + 0x8000) >> 16
        : src[s];
      out[i] = lut[v];
    }
  }
  return { channels: outC, height: img.height, width: img.width, data: out, mean, std };
}

/** Stage: normalize every sample's image (see the module comment). */
export function normalize(options: NormalizeOptions = {}): TransformStream<Sample, Sample> {
  return new TransformStream({
    transform(sample, controller) {
      const img = sample.image;
      if (img.data instanceof Float32Array) {
        controller.enqueue(sample); // already normalized
        return;
      }
      controller.enqueue({ ...sample, image: normalizeImage(img as RawImage, options) });
    },
  });
}
