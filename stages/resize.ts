/**
 * Resize stage: bilinear with antialiasing when shrinking, the same algorithm as Pillow's
 * `Image.resize(size, Image.BILINEAR)` (separable, support scaled by the shrink factor,
 * 22-bit fixed-point coefficients, horizontal pass first), so results match Pillow.
 */
import type { RawImage, Sample } from "./types.ts";

const PRECISION_BITS = 22;
const HALF = 1 << (PRECISION_BITS - 1);

/** Options for the resize stage. */
export interface ResizeOptions {
  /** Output width (default 150). */
  width?: number;
  /** Output height (default 150). */
  height?: number;
  /** Keep an alpha channel (default false: alpha is dropped here, before the work). */
  keepAlpha?: boolean;
}

interface Coeffs {
  bounds: Int32Array; // [xmin, count] per output pixel
  k: Int32Array; // ksize per output pixel
  ksize: number;
}

const coeffCache = new Map<string, Coeffs>();

/** Pillow's `precompute_coeffs` + `normalize_coeffs_8bpc` for the bilinear filter. */
function coeffs(inSize: number, outSize: number): Coeffs {
  const key = `${inSize}:${outSize}`;
  const hit = coeffCache.get(key);
  if (hit) return hit;
  const scale = inSize / outSize;
  const filterscale = Math.max(scale, 1);
  const support = 1 * filterscale;
  const ksize = Math.ceil(support) * 2 + 1;
  const bounds = new Int32Array(outSize * 2);
  const k = new Int32Array(outSize * ksize);
  const pre = new Float64Array(ksize);
  const ss = 1 / filterscale;
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    let xmin = Math.trunc(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    let xmax = Math.trunc(center + support + 0.5);
    if (xmax > inSize) xmax = inSize;
    xmax -= xmin;
    let ww = 0;
    for (let x = 0; x < xmax; x++) {
      let t = (x + xmin - center + 0.5) * ss;
      if (t < 0) t = -t;
      const w = t < 1 ? 1 - t : 0;
      pre[x] = w;
      ww += w;
    }
    for (let x = 0; x < ksize; x++) {
      const v = x < xmax && ww !== 0 ? pre[x] / ww : 0;
      k[xx * ksize + x] = v < 0
        ? Math.trunc(-0.5 + v * (1 << PRECISION_BITS))
        : Math.trunc(0.5 + v * (1 << PRECISION_BITS));
    }
    bounds[xx * 2] = xmin;
    bounds[xx * 2 + 1] = xmax;
  }
  const c = { bounds, k, ksize };
  if (coeffCache.size > 64) coeffCache.clear();
  coeffCache.set(key, c);
  return c;
}

function clip8(v: number): number {
  v >>= PRECISION_BITS;
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

/** Copy the first `outC` channels of each pixel (drops alpha when outC < channels). */
function keepChannels(img: RawImage, outC: number): RawImage {
  if (outC === img.channels) return img;
  const n = img.width * img.height;
  const out = new Uint8Array(n * outC);
  const src = img.data;
  const c = img.channels;
  for (let i = 0, j = 0, s = 0; i < n; i++, s += c) {
    for (let ch = 0; ch < outC; ch++) out[j++] = src[s + ch];
  }
  return { width: img.width, height: img.height, channels: outC, data: out };
}

/**
 * Resize 8-bit pixels to width×height like Pillow's bilinear resize. Channels are resized
 * independently (an RGBA input gives the RGB of Pillow's `convert("RGB").resize(...)`).
 */
export function resizeBilinear(
  img: RawImage,
  width: number,
  height: number,
  keepAlpha = false,
): RawImage {
  const hasAlpha = img.channels === 2 || img.channels === 4;
  const outC = hasAlpha && !keepAlpha ? img.channels - 1 : img.channels;
  if (img.width === width && img.height === height) return keepChannels(img, outC);
  const inC = img.channels;
  const src = img.data;
  const needH = width !== img.width;
  const needV = height !== img.height;
  // Horizontal pass over only the rows the vertical pass will read.
  let rowsFirst = 0;
  let rowsLast = img.height;
  const cy = needV ? coeffs(img.height, height) : null;
  if (cy) {
    rowsFirst = cy.bounds[0];
    rowsLast = cy.bounds[(height - 1) * 2] + cy.bounds[(height - 1) * 2 + 1];
  }
  const midH = rowsLast - rowsFirst;
  let mid: Uint8Array;
  let midStride: number; // bytes per pixel in `mid`
  if (needH) {
    const cx = coeffs(img.width, width);
    mid = new Uint8Array(midH * width * outC);
    midStride = outC;
    const { bounds, k, ksize } = cx;
    for (let y = 0; y < midH; y++) {
      const rowIn = (y + rowsFirst) * img.width * inC;
      const rowOut = y * width * outC;
      if (outC === 3) {
        // Three channels at once: the common case, about twice as fast.
        for (let xx = 0, o = rowOut; xx < width; xx++, o += 3) {
          const xcount = bounds[xx * 2 + 1];
          const kb = xx * ksize;
          let s0 = HALF, s1 = HALF, s2 = HALF;
          for (let x = 0, p = rowIn + bounds[xx * 2] * inC; x < xcount; x++, p += inC) {
            const kk = k[kb + x];
            s0 += src[p] * kk;
            s1 += src[p + 1] * kk;
            s2 += src[p + 2] * kk;
          }
          mid[o] = clip8(s0);
          mid[o + 1] = clip8(s1);
          mid[o + 2] = clip8(s2);
        }
        continue;
      }
      for (let xx = 0; xx < width; xx++) {
        const xmin = bounds[xx * 2];
        const xcount = bounds[xx * 2 + 1];
        const kb = xx * ksize;
        const o = rowOut + xx * outC;
        for (let c = 0; c < outC; c++) {
          let ss = HALF;
          let p = rowIn + xmin * inC + c;
          for (let x = 0; x < xcount; x++, p += inC) ss += src[p] * k[kb + x];
          mid[o + c] = clip8(ss);
        }
      }
    }
  } else {
    mid = src.subarray(rowsFirst * img.width * inC, rowsLast * img.width * inC);
    midStride = inC;
  }
  if (!cy) return keepChannels({ width, height, channels: midStride, data: mid }, outC);
  const out = new Uint8Array(width * height * outC);
  const { bounds, k, ksize } = cy;
  const rowLen = width * midStride;
  for (let yy = 0; yy < height; yy++) {
    const ymin = bounds[yy * 2] - rowsFirst;
    const ycount = bounds[yy * 2 + 1];
    const kb = yy * ksize;
    const o = yy * width * outC;
    if (outC === midStride) {
      // Channels are contiguous: run over the whole row as one vector.
      const n = width * outC;
      for (let i = 0; i < n; i++) {
        let ss = HALF;
        for (let y = 0, p = ymin * rowLen + i; y < ycount; y++, p += rowLen) {
          ss += mid[p] * k[kb + y];
        }
        out[o + i] = clip8(ss);
      }
      continue;
    }
    for (let xx = 0; xx < width; xx++) {
      for (let c = 0; c < outC; c++) {
        let ss = HALF;
        let p = ymin * rowLen + xx * midStride + c;
        for (let y = 0; y < ycount; y++, p += rowLen) ss += mid[p] * k[kb + y];
        out[o + xx * outC + c] = clip8(ss);
      }
    }
  }
  return { width, height, channels: outC, data: out };
}

/** Stage: resize every sample's 8-bit image to a fixed size (150×150 by default). */
export function resize(options: ResizeOptions = {}): TransformStream<Sample, Sample> {
  const width = options.width ?? 150;
  const height = options.height ?? 150;
  return new TransformStream({
    transform(sample, controller) {
      const img = sample.image;
      if (img.data instanceof Float32Array) {
        throw new Error(`resize: ${sample.path} is already normalized; put resize first`);
      }
      controller.enqueue({
        ...sample,
        image: resizeBilinear(img as RawImage, width, height, options.keepAlpha),
      });
    },
  });
}
