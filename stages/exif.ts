/**
 * EXIF orientation: read the Orientation tag (0x0112) of a JPEG's APP1 "Exif" segment or a
 * PNG's eXIf chunk, and turn decoded pixels upright the way Pillow's
 * `ImageOps.exif_transpose` does. Phones store the sensor's pixels and record the way the
 * camera was held in this tag; torchvision's `ImageFolder` ignores it, Pillow-based viewers
 * and most tools apply it.
 *
 * The parser reads only what it needs (TIFF header, IFD0), in either byte order, and never
 * throws: anything missing, truncated or malformed reads as orientation 1 (as stored).
 *
 * @module
 */
import type { RawImage } from "./types.ts";

const TAG_ORIENTATION = 0x0112;

/**
 * The EXIF Orientation (1–8) of a JPEG or PNG file's bytes; 1 when the file has none, or
 * when the EXIF data is malformed or holds a value outside 1–8. Like Pillow, a JPEG's first
 * APP1 "Exif" segment before the scan counts, and a PNG's last eXIf chunk.
 */
export function exifOrientation(bytes: Uint8Array): number {
  let tiff: Uint8Array | undefined;
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8) tiff = jpegExif(bytes);
  else if (bytes.length >= 8 && bytes[0] === 0x89 && bytes[1] === 0x50) tiff = pngExif(bytes);
  if (!tiff) return 1;
  const o = tiffOrientation(tiff);
  return o >= 1 && o <= 8 ? o : 1;
}

/** The TIFF data of the first APP1 "Exif\0\0" segment before the scan, if any. */
function jpegExif(b: Uint8Array): Uint8Array | undefined {
  let p = 2;
  while (p + 1 < b.length) {
    if (b[p] !== 0xff) { // junk between segments: skip it, as Pillow does
      p++;
      continue;
    }
    const m = b[p + 1];
    if (m === 0xff) {
      p++;
      continue;
    }
    if (m === 0xd8 || m === 0x01 || (m >= 0xd0 && m <= 0xd7)) {
      p += 2;
      continue;
    }
    if (m === 0xda || m === 0xd9 || p + 4 > b.length) return undefined;
    const len = (b[p + 2] << 8) | b[p + 3];
    if (len < 2) return undefined;
    const seg = b.subarray(p + 4, Math.min(b.length, p + 2 + len));
    if (
      m === 0xe1 && seg.length >= 5 && seg[0] === 0x45 && seg[1] === 0x78 && seg[2] === 0x69 &&
      seg[3] === 0x66 && seg[4] === 0
    ) {
      // Pillow takes the first "Exif\0" segment; without the second NUL it is unreadable.
      return seg.length >= 6 && seg[5] === 0 ? seg.subarray(6) : undefined;
    }
    p += 2 + len;
  }
  return undefined;
}

/** The data of the last eXIf chunk (a TIFF structure), if any. */
function pngExif(b: Uint8Array): Uint8Array | undefined {
  const sig = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  if (!sig.every((v, i) => b[i] === v)) return undefined;
  let found: Uint8Array | undefined;
  let p = 8;
  while (p + 8 <= b.length) {
    const len = ((b[p] << 24) | (b[p + 1] << 16) | (b[p + 2] << 8) | b[p + 3]) >>> 0;
    const type = String.fromCharCode(b[p + 4], b[p + 5], b[p + 6], b[p + 7]);
    if (type === "IEND") break;
    if (type === "eXIf") found = b.subarray(p + 8, Math.min(b.length, p + 8 + len));
    p += 12 + len;
  }
  return found;
}

/** The Orientation value in IFD0 of TIFF data; 0 when absent or unreadable. */
function tiffOrientation(t: Uint8Array): number {
  if (t.length < 8) return 0;
  let little: boolean;
  if (t[0] === 0x49 && t[1] === 0x49) little = true;
  else if (t[0] === 0x4d && t[1] === 0x4d) little = false;
  else return 0;
  const u16 = (i: number) => little ? t[i] | (t[i + 1] << 8) : (t[i] << 8) | t[i + 1];
  const u32 = (i: number) =>
    little
      ? (t[i] | (t[i + 1] << 8) | (t[i + 2] << 16) | (t[i + 3] << 24)) >>> 0
      : ((t[i] << 24) | (t[i + 1] << 16) | (t[i + 2] << 8) | t[i + 3]) >>> 0;
  if (u16(2) !== 42) return 0;
  const ifd = u32(4);
  if (ifd + 2 > t.length) return 0;
  const n = u16(ifd);
  let orientation = 0;
  // Entries are read until the data ends (Pillow keeps those read before a truncation);
  // a repeated tag overrides the earlier one, as in Pillow's dictionary.
  for (let i = 0, e = ifd + 2; i < n && e + 12 <= t.length; i++, e += 12) {
    if (u16(e) !== TAG_ORIENTATION) continue;
    const type = u16(e + 2);
    const count = u32(e + 4);
    if (count !== 1) orientation = 0; // Pillow reads a tuple: no transpose
    else if (type === 3 || type === 8) orientation = u16(e + 8); // (S)SHORT
    else if (type === 4 || type === 9) orientation = u32(e + 8); // (S)LONG
    else if (type === 1 || type === 6) orientation = t[e + 8]; // (S)BYTE
    else orientation = 0;
  }
  return orientation;
}

/**
 * Turn pixels upright for an EXIF orientation, exactly as Pillow's `exif_transpose`:
 * 2 mirror left–right, 3 rotate 180°, 4 mirror top–bottom, 5 transpose, 6 rotate 90°
 * clockwise, 7 transverse, 8 rotate 90° counter-clockwise. Orientations 5–8 swap width and
 * height. Returns `img` itself for 1 or any other value; otherwise a new image.
 */
export function applyOrientation(img: RawImage, orientation: number): RawImage {
  if (!Number.isInteger(orientation) || orientation < 2 || orientation > 8) return img;
  const { width: w, height: h, channels: c } = img;
  const swap = orientation >= 5;
  const ow = swap ? h : w;
  const oh = swap ? w : h;
  // Output pixel (x, y) reads source pixel base + x·dx + y·dy.
  const [base, dx, dy] = ({
    2: [w - 1, -1, w],
    3: [h * w - 1, -1, -w],
    4: [(h - 1) * w, 1, -w],
    5: [0, w, 1],
    6: [(h - 1) * w, -w, 1],
    7: [h * w - 1, -w, -1],
    8: [w - 1, w, -1],
  } as Record<number, [number, number, number]>)[orientation];
  const src = img.data;
  const out = new Uint8Array(src.length);
  if (c === 4 && src.byteOffset % 4 === 0) {
    const s32 = new Uint32Array(src.buffer, src.byteOffset, w * h);
    const o32 = new Uint32Array(out.buffer);
    for (let y = 0, o = 0; y < oh; y++) {
      for (let x = 0, s = base + y * dy; x < ow; x++, s += dx) o32[o++] = s32[s];
    }
  } else {
    for (let y = 0, o = 0; y < oh; y++) {
      for (let x = 0, s = base + y * dy; x < ow; x++, s += dx) {
        for (let k = 0; k < c; k++) out[o++] = src[s * c + k];
      }
    }
  }
  return { width: ow, height: oh, channels: c, data: out };
}
