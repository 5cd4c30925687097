/**
 * Pixel stages of the 4-component JPEG decoder (`jpeg_cmyk.ts`), each the integer
 * arithmetic of the libjpeg-turbo that Pillow links, so the samples come out bit for bit
 * the same: the accurate integer inverse DCT (`jidctint.c`, `JDCT_ISLOW`, libjpeg's
 * default), the "fancy" (triangle) upsampling of `jdsample.c`, libjpeg's YCCK→CMYK
 * conversion (`jdcolor.c`), Pillow's Adobe polarity (`CMYK;I`) and its `convert("RGB")`
 * (`cmyk2rgb` in libImaging/Convert.c).
 *
 * @module
 */

/** Zigzag index → natural (row-major) index, padded as libjpeg pads it for bad runs. */
// deno-fmt-ignore
export const NATURAL_ORDER: Uint8Array = Uint8Array.from([
  0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5,
  12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21, 28,
  35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51,
  58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
  ...new Array(16).fill(63),
]);

// jidctint.c's constants: FIX(x) = round(x · 2^13).
const F_0_298 = 2446, F_0_390 = 3196, F_0_541 = 4433, F_0_765 = 6270;
const F_0_899 = 7373, F_1_175 = 9633, F_1_501 = 12299, F_1_847 = 15137;
const F_1_961 = 16069, F_2_053 = 16819, F_2_562 = 20995, F_3_072 = 25172;

/**
 * DESCALE(x, n): x / 2^n rounded, on C's 64-bit JLONG. Values are exact doubles here (under
 * 2^53 for any coefficients), so this floors instead of shifting an int32: a corrupt file's
 * huge coefficients wrap as they do in C, not earlier.
 */
const descale = (x: number, n: number) => Math.floor((x + 2 ** (n - 1)) * 2 ** -n);

/** libjpeg's post-IDCT range limit: the low 10 bits as a signed value, +128, clamped. */
function rangeLimit(x: number): number {
  const v = x & 1023;
  const s = (v < 512 ? v : v - 1024) + 128;
  return s < 0 ? 0 : s > 255 ? 255 : s;
}

const work = new Int32Array(64);

/**
 * `jpeg_idct_islow`: one block of coefficients (natural order, not yet dequantized) at
 * `coefs[off…off+63]`, times `quant`, into 8×8 samples of `out` at (x, y), row length
 * `stride`. The work array is 32-bit (C's `int`), the rest 64-bit (`JLONG`), as in C.
 */
export function idctBlock(
  coefs: Int16Array,
  off: number,
  quant: Int16Array,
  out: Uint8Array,
  stride: number,
  x: number,
  y: number,
): void {
  const ws = work;
  for (let c = 0; c < 8; c++) {
    const i = off + c;
    if (
      coefs[i + 8] === 0 && coefs[i + 16] === 0 && coefs[i + 24] === 0 &&
      coefs[i + 32] === 0 && coefs[i + 40] === 0 && coefs[i + 48] === 0 && coefs[i + 56] === 0
    ) {
      const dc = (coefs[i] * quant[c]) << 2;
      for (let r = 0; r < 64; r += 8) ws[r + c] = dc;
      continue;
    }
    let z2 = coefs[i + 16] * quant[c + 16];
    let z3 = coefs[i + 48] * quant[c + 48];
    const z1 = (z2 + z3) * F_0_541;
    let t2 = z1 - z3 * F_1_847;
    let t3 = z1 + z2 * F_0_765;
    z2 = coefs[i] * quant[c];
    z3 = coefs[i + 32] * quant[c + 32];
    let t0 = (z2 + z3) * 8192;
    let t1 = (z2 - z3) * 8192;
    const t10 = t0 + t3, t13 = t0 - t3, t11 = t1 + t2, t12 = t1 - t2;
    t0 = coefs[i + 56] * quant[c + 56];
    t1 = coefs[i + 40] * quant[c + 40];
    t2 = coefs[i + 24] * quant[c + 24];
    t3 = coefs[i + 8] * quant[c + 8];
    [t0, t1, t2, t3] = odd(t0, t1, t2, t3);
    ws[c] = descale(t10 + t3, 11);
    ws[c + 56] = descale(t10 - t3, 11);
    ws[c + 8] = descale(t11 + t2, 11);
    ws[c + 48] = descale(t11 - t2, 11);
    ws[c + 16] = descale(t12 + t1, 11);
    ws[c + 40] = descale(t12 - t1, 11);
    ws[c + 24] = descale(t13 + t0, 11);
    ws[c + 32] = descale(t13 - t0, 11);
  }
  for (let r = 0; r < 8; r++) {
    const w = r * 8;
    let o = (y + r) * stride + x;
    if (
      ws[w + 1] === 0 && ws[w + 2] === 0 && ws[w + 3] === 0 && ws[w + 4] === 0 &&
      ws[w + 5] === 0 && ws[w + 6] === 0 && ws[w + 7] === 0
    ) {
      out.fill(rangeLimit(descale(ws[w], 5)), o, o + 8);
      continue;
    }
    const z2 = ws[w + 2], z3 = ws[w + 6];
    const z1 = (z2 + z3) * F_0_541;
    const e2 = z1 - z3 * F_1_847;
    const e3 = z1 + z2 * F_0_765;
    const e0 = (ws[w] + ws[w + 4]) * 8192;
    const e1 = (ws[w] - ws[w + 4]) * 8192;
    const t10 = e0 + e3, t13 = e0 - e3, t11 = e1 + e2, t12 = e1 - e2;
    const [t0, t1, t2, t3] = odd(ws[w + 7], ws[w + 5], ws[w + 3], ws[w + 1]);
    out[o++] = rangeLimit(descale(t10 + t3, 18));
    out[o++] = rangeLimit(descale(t11 + t2, 18));
    out[o++] = rangeLimit(descale(t12 + t1, 18));
    out[o++] = rangeLimit(descale(t13 + t0, 18));
    out[o++] = rangeLimit(descale(t13 - t0, 18));
    out[o++] = rangeLimit(descale(t12 - t1, 18));
    out[o++] = rangeLimit(descale(t11 - t2, 18));
    out[o] = rangeLimit(descale(t10 - t3, 18));
  }
}

/** The odd part of jidctint.c, inputs in 7, 5, 3, 1 order; returns tmp0…tmp3. */
function odd(t0: number, t1: number, t2: number, t3: number): [number, number, number, number] {
  let z1 = t0 + t3, z2 = t1 + t2, z3 = t0 + t2, z4 = t1 + t3;
  const z5 = (z3 + z4) * F_1_175;
  t0 *= F_0_298;
  t1 *= F_2_053;
  t2 *= F_3_072;
  t3 *= F_1_501;
  z1 *= -F_0_899;
  z2 *= -F_2_562;
  z3 = z3 * -F_1_961 + z5;
  z4 = z4 * -F_0_390 + z5;
  return [t0 + z1 + z3, t1 + z2 + z4, t2 + z2 + z3, t3 + z1 + z4];
}

/** A component's decoded samples: `width`×`height` real samples in rows of `stride`. */
export interface Plane {
  data: Uint8Array;
  stride: number;
  width: number;
  height: number;
}

/**
 * Upsample a plane by integer factors (`fx`, `fy`) to `width`×`height`, as libjpeg-turbo's
 * `jdsample.c` does with `do_fancy_upsampling` on: triangle filters for 2×1 (when the plane
 * is over 2 samples wide), 1×2 and 2×2 (likewise), replication otherwise. Edge rows and
 * columns repeat, as libjpeg's context rows do.
 */
export function upsample(p: Plane, fx: number, fy: number, width: number, height: number) {
  const out = new Uint8Array(width * height);
  const { data, stride, width: pw, height: ph } = p;
  const row = (y: number) => Math.min(Math.max(y, 0), ph - 1) * stride;
  const line = new Uint8Array(pw * fx);
  for (let oy = 0; oy < height; oy++) {
    const iy = Math.floor(oy / fy);
    if (fy === 2 && (fx === 1 || (fx === 2 && pw > 2))) {
      // Vertical triangle: 3× the nearer row plus the next row out (above for the upper).
      const upper = oy % 2 === 0;
      const a = row(iy), b = row(upper ? iy - 1 : iy + 1);
      if (fx === 1) {
        const bias = upper ? 1 : 2;
        for (let x = 0; x < pw; x++) line[x] = (data[a + x] * 3 + data[b + x] + bias) >> 2;
      } else {
        const sum = (x: number) => data[a + x] * 3 + data[b + x];
        let last = sum(0), cur = last, next = sum(1);
        line[0] = (cur * 4 + 8) >> 4;
        line[1] = (cur * 3 + next + 7) >> 4;
        for (let x = 1; x < pw - 1; x++) {
          last = cur;
          cur = next;
          next = sum(x + 1);
          line[2 * x] = (cur * 3 + last + 8) >> 4;
          line[2 * x + 1] = (cur * 3 + next + 7) >> 4;
        }
        last = cur;
        cur = next;
        line[2 * pw - 2] = (cur * 3 + last + 8) >> 4;
        line[2 * pw - 1] = (cur * 4 + 7) >> 4;
      }
    } else if (fx === 2 && fy === 1 && pw > 2) {
      const a = row(iy);
      line[0] = data[a];
      line[1] = (data[a] * 3 + data[a + 1] + 2) >> 2;
      for (let x = 1; x < pw - 1; x++) {
        const v = data[a + x] * 3;
        line[2 * x] = (v + data[a + x - 1] + 1) >> 2;
        line[2 * x + 1] = (v + data[a + x + 1] + 2) >> 2;
      }
      line[2 * pw - 2] = (data[a + pw - 1] * 3 + data[a + pw - 2] + 1) >> 2;
      line[2 * pw - 1] = data[a + pw - 1];
    } else {
      const a = row(iy);
      for (let x = 0; x < pw * fx; x++) line[x] = data[a + Math.floor(x / fx)];
    }
    out.set(line.subarray(0, width), oy * width);
  }
  return out;
}

// jdcolor.c's YCC→RGB tables (SCALEBITS 16).
const FIX16 = (x: number) => Math.floor(x * 65536 + 0.5);
const CR_R = new Int32Array(256), CB_B = new Int32Array(256);
const CR_G = new Int32Array(256), CB_G = new Int32Array(256);
for (let i = 0; i < 256; i++) {
  const x = i - 128;
  CR_R[i] = (FIX16(1.402) * x + 32768) >> 16;
  CB_B[i] = (FIX16(1.772) * x + 32768) >> 16;
  CR_G[i] = -FIX16(0.71414) * x;
  CB_G[i] = -FIX16(0.34414) * x + 32768;
}

const clamp8 = (v: number) => v < 0 ? 0 : v > 255 ? 255 : v;
/** Pillow's MULDIV255: a·b/255 rounded, with its shifts. */
const mulDiv255 = (a: number, b: number) => {
  const t = a * b + 128;
  return ((t >> 8) + t) >> 8;
};

/**
 * Four full-size component planes (as stored in the file) to RGBA with alpha 255, the way
 * Pillow opens the file and calls `convert("RGB")`: YCCK goes through libjpeg's YCC→RGB
 * tables first (libjpeg's CMYK is then 255 − that), every component is inverted (Pillow
 * reads 4-component JPEGs as `CMYK;I`, Adobe polarity) and
 * `R = (255 − K) − MULDIV255(C, 255 − K)`.
 */
export function cmykToRgba(planes: Uint8Array[], n: number, ycck: boolean): Uint8Array {
  const out = new Uint8Array(n * 4);
  const [p0, p1, p2, p3] = planes;
  for (let i = 0, o = 0; i < n; i++, o += 4) {
    let c: number, m: number, y: number;
    if (ycck) {
      const l = p0[i], cb = p1[i], cr = p2[i];
      // Pillow's C = 255 − libjpeg's C = 255 − clamp(255 − R) = clamp(R).
      c = clamp8(l + CR_R[cr]);
      m = clamp8(l + ((CB_G[cb] + CR_G[cr]) >> 16));
      y = clamp8(l + CB_B[cb]);
    } else {
      c = 255 - p0[i];
      m = 255 - p1[i];
      y = 255 - p2[i];
    }
    const nk = p3[i]; // 255 − Pillow's K
    out[o] = nk - mulDiv255(c, nk);
    out[o + 1] = nk - mulDiv255(m, nk);
    out[o + 2] = nk - mulDiv255(y, nk);
    out[o + 3] = 255;
  }
  return out;
}
