/**
 * Augment stage on normalized float CHW images: random horizontal and vertical flip,
 * random resized crop, random rotation, random perspective (all composed into one
 * projective map and resampled once) and colour jitter. Every choice comes from a seeded
 * generator owned by the stage: the same seed and epoch give the same images, and each
 * epoch sees fresh variants. Areas that come from outside the image are black.
 */
import { deriveSeed, Rng } from "../core/random.ts";
import type { FloatImage, Sample } from "./types.ts";

/** Options for augment; every transform is off unless given. */
export interface AugmentOptions {
  /** Seed of the stage's generator. */
  seed: number;
  /** Epoch: mixed into the seed so each epoch sees fresh variants (default 0). */
  epoch?: number;
  /** Probability of a horizontal flip (e.g. 0.5). */
  hflip?: number;
  /** Probability of a vertical flip. */
  vflip?: number;
  /** Random rotation in [-degrees, +degrees]. */
  rotate?: number;
  /** Random resized crop back to the image's size (torchvision's RandomResizedCrop). */
  crop?: { scale?: [number, number]; ratio?: [number, number] };
  /** Random perspective: corner displacement as a fraction (0..1), applied with probability p. */
  perspective?: { distortion: number; p?: number };
  /** Colour jitter factors, as torchvision's ColorJitter (hue in [0, 0.5]). */
  jitter?: { brightness?: number; contrast?: number; saturation?: number; hue?: number };
  /** Resampling for the geometric transforms (default bilinear). */
  interpolation?: "bilinear" | "nearest";
  /** Use this generator instead of one made from seed and epoch (to save/resume its state). */
  rng?: Rng;
}

type Mat = number[]; // 3×3 row-major

const mul = (a: Mat, b: Mat): Mat => {
  const r = new Array(9).fill(0);
  for (let i = 0; i < 3; i++) {
    for (let j = 0; j < 3; j++) {
      for (let k = 0; k < 3; k++) r[i * 3 + j] += a[i * 3 + k] * b[k * 3 + j];
    }
  }
  return r;
};
const IDENTITY: Mat = [1, 0, 0, 0, 1, 0, 0, 0, 1];

/** Homography taking the four `from` points to the four `to` points (solved 8×8). */
export function homography(from: number[][], to: number[][]): Mat {
  const a: number[][] = [];
  for (let i = 0; i < 4; i++) {
    const [x, y] = from[i];
    const [u, v] = to[i];
    a.push([x, y, 1, 0, 0, 0, -u * x, -u * y, u]);
    a.push([0, 0, 0, x, y, 1, -v * x, -v * y, v]);
  }
  for (let c = 0; c < 8; c++) {
    let p = c;
    for (let r = c + 1; r < 8; r++) if (Math.abs(a[r][c]) > Math.abs(a[p][c])) p = r;
    [a[c], a[p]] = [a[p], a[c]];
    for (let r = 0; r < 8; r++) {
      if (r === c) continue;
      const f = a[r][c] / a[c][c];
      for (let k = c; k < 9; k++) a[r][k] -= f * a[c][k];
    }
  }
  const h = a.map((row, i) => row[8] / row[i]);
  return [...h, 1];
}

/**
 * Resample `img` through `m`, which maps output pixel-centre coordinates (x + 0.5, y + 0.5)
 * to input ones; outside samples are black (the normalized value of 0).
 */
export function warp(img: FloatImage, m: Mat, interpolation = "bilinear"): FloatImage {
  const { width: w, height: h, channels: C } = img;
  const hw = w * h;
  const src = img.data;
  const out = new Float32Array(src.length);
  const fill = img.mean.map((mu, c) => -mu / img.std[c]);
  const nearest = interpolation === "nearest";
  for (let y = 0; y < h; y++) {
    const yc = y + 0.5;
    for (let x = 0; x < w; x++) {
      const xc = x + 0.5;
      const d = m[6] * xc + m[7] * yc + m[8];
      const u = (m[0] * xc + m[1] * yc + m[2]) / d - 0.5;
      const v = (m[3] * xc + m[4] * yc + m[5]) / d - 0.5;
      const o = y * w + x;
      if (nearest) {
        const ui = Math.round(u);
        const vi = Math.round(v);
        const inside = ui >= 0 && ui < w && vi >= 0 && vi < h;
        for (let c = 0; c < C; c++) out[c * hw + o] = inside ? src[c * hw + vi * w + ui] : fill[c];
        continue;
      }
      const u0 = Math.floor(u);
      const v0 = Math.floor(v);
      const fu = u - u0;
      const fv = v - v0;
      if (u0 >= 0 && v0 >= 0 && u0 + 1 < w && v0 + 1 < h) {
        const i00 = v0 * w + u0;
        const w00 = (1 - fu) * (1 - fv), w01 = fu * (1 - fv), w10 = (1 - fu) * fv, w11 = fu * fv;
        for (let c = 0; c < C; c++) {
          const b = c * hw + i00;
          out[c * hw + o] = src[b] * w00 + src[b + 1] * w01 + src[b + w] * w10 +
            src[b + w + 1] * w11;
        }
        continue;
      }
      for (let c = 0; c < C; c++) {
        let s = 0;
        for (let k = 0; k < 4; k++) {
          const uu = u0 + (k & 1);
          const vv = v0 + (k >> 1);
          const wt = ((k & 1) ? fu : 1 - fu) * ((k >> 1) ? fv : 1 - fv);
          if (wt === 0) continue;
          s += wt * (uu >= 0 && uu < w && vv >= 0 && vv < h ? src[c * hw + vv * w + uu] : fill[c]);
        }
        out[c * hw + o] = s;
      }
    }
  }
  return { ...img, data: out };
}

/** Flip planar pixels horizontally and/or vertically (exact, no resampling). */
export function flip(img: FloatImage, horizontal: boolean, vertical: boolean): FloatImage {
  const { width: w, height: h, channels: C } = img;
  const out = new Float32Array(img.data.length);
  for (let c = 0; c < C; c++) {
    for (let y = 0; y < h; y++) {
      const sy = vertical ? h - 1 - y : y;
      const so = (c * h + sy) * w;
      const oo = (c * h + y) * w;
      if (!horizontal) out.set(img.data.subarray(so, so + w), oo);
      else for (let x = 0; x < w; x++) out[oo + x] = img.data[so + w - 1 - x];
    }
  }
  return { ...img, data: out };
}

/** torchvision's RandomResizedCrop.get_params: a box [top, left, height, width]. */
export function cropBox(
  rng: Rng,
  w: number,
  h: number,
  scale: [number, number] = [0.08, 1],
  ratio: [number, number] = [3 / 4, 4 / 3],
): [number, number, number, number] {
  const area = w * h;
  const [lr0, lr1] = [Math.log(ratio[0]), Math.log(ratio[1])];
  for (let t = 0; t < 10; t++) {
    const target = area * rng.uniform(scale[0], scale[1]);
    const aspect = Math.exp(rng.uniform(lr0, lr1));
    const cw = Math.round(Math.sqrt(target * aspect));
    const ch = Math.round(Math.sqrt(target / aspect));
    if (cw > 0 && cw <= w && ch > 0 && ch <= h) {
      return [rng.int(h - ch + 1), rng.int(w - cw + 1), ch, cw];
    }
  }
  const r = w / h;
  let cw = w, ch = h;
  if (r < ratio[0]) ch = Math.round(w / ratio[0]);
  else if (r > ratio[1]) cw = Math.round(h * ratio[1]);
  return [Math.floor((h - ch) / 2), Math.floor((w - cw) / 2), ch, cw];
}

const GREY = [0.2989, 0.587, 0.114];
const clamp01 = (v: number) => (v < 0 ? 0 : v > 1 ? 1 : v);

function greyAt(d: Float32Array, C: number, hw: number, i: number): number {
  return C === 3 ? GREY[0] * d[i] + GREY[1] * d[hw + i] + GREY[2] * d[2 * hw + i] : d[i];
}

/** torchvision's adjust_brightness on [0, 1] CHW data, in place. */
export function adjustBrightness(d: Float32Array, factor: number): void {
  for (let i = 0; i < d.length; i++) d[i] = clamp01(d[i] * factor);
}

/** torchvision's adjust_contrast on [0, 1] CHW data (blend with the grey mean), in place. */
export function adjustContrast(d: Float32Array, channels: number, factor: number): void {
  const hw = d.length / channels;
  let mean = 0;
  for (let i = 0; i < hw; i++) mean += greyAt(d, channels, hw, i);
  mean /= hw;
  for (let i = 0; i < d.length; i++) d[i] = clamp01(factor * d[i] + (1 - factor) * mean);
}

/** torchvision's adjust_saturation on [0, 1] RGB CHW data (blend with grey), in place. */
export function adjustSaturation(d: Float32Array, channels: number, factor: number): void {
  if (channels !== 3) return;
  const hw = d.length / 3;
  for (let i = 0; i < hw; i++) {
    const g = (1 - factor) * greyAt(d, 3, hw, i);
    d[i] = clamp01(factor * d[i] + g);
    d[hw + i] = clamp01(factor * d[hw + i] + g);
    d[2 * hw + i] = clamp01(factor * d[2 * hw + i] + g);
  }
}

/** torchvision's adjust_hue on [0, 1] RGB CHW data (shift in HSV, -0.5..0.5), in place. */
export function adjustHue(d: Float32Array, channels: number, shift: number): void {
  if (channels === 3) shiftHue(d, d.length / 3, shift);
}

/** Colour jitter in [0, 1] units on un-normalized values; ops in a random order. */
function jitter(img: FloatImage, rng: Rng, o: NonNullable<AugmentOptions["jitter"]>): void {
  const pick = (v = 0) => (v > 0 ? rng.uniform(Math.max(0, 1 - v), 1 + v) : null);
  const order = rng.shuffle([0, 1, 2, 3]);
  const b = pick(o.brightness), c = pick(o.contrast), s = pick(o.saturation);
  const hue = o.hue ? rng.uniform(-o.hue, o.hue) : null;
  const { channels: C, data } = img;
  const hw = img.width * img.height;
  for (let ch = 0; ch < C; ch++) {
    const m = img.mean[ch], sd = img.std[ch];
    for (let i = ch * hw; i < (ch + 1) * hw; i++) data[i] = data[i] * sd + m;
  }
  for (const op of order) {
    if (op === 0 && b !== null) adjustBrightness(data, b);
    else if (op === 1 && c !== null) adjustContrast(data, C, c);
    else if (op === 2 && s !== null) adjustSaturation(data, C, s);
    else if (op === 3 && hue !== null) adjustHue(data, C, hue);
  }
  for (let ch = 0; ch < C; ch++) {
    const m = img.mean[ch], sd = img.std[ch];
    for (let i = ch * hw; i < (ch + 1) * hw; i++) data[i] = (data[i] - m) / sd;
  }
}

function shiftHue(d: Float32Array, hw: number, shift: number): void {
  for (let i = 0; i < hw; i++) {
    const r = d[i], g = d[hw + i], b = d[2 * hw + i];
    const max = Math.max(r, g, b), min = Math.min(r, g, b), delta = max - min;
    let h = 0;
    if (delta > 0) {
      if (max === r) h = ((g - b) / delta) % 6;
      else if (max === g) h = (b - r) / delta + 2;
      else h = (r - g) / delta + 4;
      h /= 6;
    }
    h = (((h + shift) % 1) + 1) % 1;
    const s = max === 0 ? 0 : delta / max;
    const v = max;
    const k = (n: number) => (n + h * 6) % 6;
    const f = (n: number) => v - v * s * Math.max(0, Math.min(k(n), 4 - k(n), 1));
    d[i] = f(5);
    d[hw + i] = f(3);
    d[2 * hw + i] = f(1);
  }
}

/** Apply one random draw of the configured transforms to one image. */
export function augmentImage(img: FloatImage, rng: Rng, o: AugmentOptions): FloatImage {
  const { width: w, height: h } = img;
  const hf = o.hflip ? rng.chance(o.hflip) : false;
  const vf = o.vflip ? rng.chance(o.vflip) : false;
  let m = IDENTITY;
  let geometric = false;
  if (o.crop) {
    const [top, left, ch, cw] = cropBox(rng, w, h, o.crop.scale, o.crop.ratio);
    m = mul(m, [cw / w, 0, left, 0, ch / h, top, 0, 0, 1]);
    geometric = true;
  }
  if (hf || vf) m = mul(m, [hf ? -1 : 1, 0, hf ? w : 0, 0, vf ? -1 : 1, vf ? h : 0, 0, 0, 1]);
  if (o.rotate) {
    const a = rng.uniform(-o.rotate, o.rotate) * Math.PI / 180;
    const [cx, cy, cs, sn] = [w / 2, h / 2, Math.cos(a), Math.sin(a)];
    // Counter-clockwise on screen for positive angles (as torchvision): output → input.
    m = mul(m, [cs, -sn, cx - cs * cx + sn * cy, sn, cs, cy - sn * cx - cs * cy, 0, 0, 1]);
    geometric = true;
  }
  if (o.perspective && rng.chance(o.perspective.p ?? 0.5)) {
    const dx = o.perspective.distortion * w / 2, dy = o.perspective.distortion * h / 2;
    const corners = [[0, 0], [w, 0], [w, h], [0, h]];
    const sx = [1, -1, -1, 1], sy = [1, 1, -1, -1];
    const moved = corners.map(([x, y], i) => [
      x + sx[i] * rng.uniform(0, dx),
      y + sy[i] * rng.uniform(0, dy),
    ]);
    m = mul(m, homography(moved, corners));
    geometric = true;
  }
  let out = img;
  if (geometric) out = warp(img, m, o.interpolation);
  else if (hf || vf) out = flip(img, hf, vf);
  if (o.jitter) {
    if (out === img) out = { ...img, data: img.data.slice() };
    jitter(out, rng, o.jitter);
  }
  return out;
}

/**
 * The stage's generator. Each sample gets its own generator seeded from it, in stream
 * order, so decode workers can augment in parallel and still give the same images.
 */
export function augmentRng(options: AugmentOptions): Rng {
  return options.rng ?? new Rng(deriveSeed(options.seed, "augment", options.epoch ?? 0));
}

/** Stage: augment every normalized sample (see the module comment). */
export function augment(options: AugmentOptions): TransformStream<Sample, Sample> {
  const rng = augmentRng(options);
  return new TransformStream({
    transform(sample, controller) {
      if (!(sample.image.data instanceof Float32Array)) {
        throw new Error(`augment: ${sample.path} is not normalized; put normalize first`);
      }
      const image = augmentImage(sample.image as FloatImage, new Rng(rng.nextU32()), options);
      controller.enqueue({ ...sample, image });
    },
  });
}
