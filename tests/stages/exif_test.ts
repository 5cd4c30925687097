/**
 * EXIF orientation against Pillow: fixtures/exif holds one picture encoded with each
 * Orientation 1–8 (both byte orders) and the pixels Pillow's `ImageOps.exif_transpose`
 * gives for each (fixtures/exif/make_exif.py). The JPEG decoder matches Pillow's
 * libjpeg-turbo exactly and a transpose only moves pixels, so the tolerance is 0.
 */
import { assert, assertEquals } from "./_helpers.ts";
import { collect, diff, ROOT } from "./_helpers.ts";
import { decodeAndResize, decodeImage } from "../../stages/codec.ts";
import { decode } from "../../stages/decode.ts";
import { applyOrientation, exifOrientation } from "../../stages/exif.ts";
import { imageBatches } from "../../stages/images.ts";
import { fileSource } from "../../stages/load.ts";
import type { RawImage } from "../../stages/types.ts";

const DIR = ROOT + "fixtures/exif";
const read = (name: string) => Deno.readFileSync(`${DIR}/${name}`);
interface Case {
  file: string;
  ref: string;
  orientation: number;
  byteOrder: string;
  width: number;
  height: number;
}
const manifest: { rawRef: string; files: Case[] } = JSON.parse(
  Deno.readTextFileSync(`${DIR}/manifest.json`),
);
/** A reference PNG (RGB, no EXIF) as pixels. */
const ref = (name: string) => decodeImage(read(name));

Deno.test("exif: each orientation 1–8 decodes to Pillow's exif_transpose pixels (diff 0)", async () => {
  const maxes: string[] = [];
  const seen = new Set<string>();
  for (const c of manifest.files) {
    assertEquals(exifOrientation(read(c.file)), c.orientation, c.file);
    const img = await decodeImage(read(c.file));
    const want = await ref(c.ref);
    if (c.file.endsWith(".jpg")) seen.add(`${want.width}x${want.height}:${want.data.join()}`);
    assertEquals([img.width, img.height, img.channels], [c.width, c.height, 3], c.file);
    const d = diff(img.data, want.data);
    maxes.push(`${c.file} (${c.byteOrder}) ${d.max}`);
    assertEquals(d.max, 0, `${c.file}: max abs diff ${d.max}`);
  }
  assertEquals(seen.size, 8, "the eight references differ from each other");
  console.log(`max abs diff vs Pillow: ${maxes.join(", ")}`);
});

Deno.test("exif: exif: false gives Pillow's pixels without the transpose (ImageFolder)", async () => {
  const raw = await ref(manifest.rawRef);
  for (const c of manifest.files.filter((f) => f.file.endsWith(".jpg"))) {
    const img = await decodeImage(read(c.file), { exif: false });
    assertEquals([img.width, img.height], [raw.width, raw.height], c.file);
    assertEquals(diff(img.data, raw.data).max, 0, c.file);
  }
});

Deno.test("exif: the orientation is applied before the resize, in workers and inline", async () => {
  const size = { width: 20, height: 12 };
  const files = manifest.files.map((c, i) => ({ path: `${DIR}/${c.file}`, label: i }));
  const asStored = await decodeAndResize(read(manifest.rawRef), size);
  for (const workers of [0, 1]) {
    const on = await collect(fileSource(files).pipeThrough(decode({ workers, resize: size })));
    const off = await collect(
      fileSource(files).pipeThrough(decode({ workers, resize: size, exif: false })),
    );
    for (const [i, c] of manifest.files.entries()) {
      // Resizing Pillow's upright pixels gives the same as decoding with the orientation.
      const upright = await decodeAndResize(read(c.ref), size);
      const what = `${c.file} (workers ${workers})`;
      assertEquals(on[i].image.data, upright.data, what);
      if (c.file.endsWith(".jpg")) assertEquals(off[i].image.data, asStored.data, what);
    }
  }
  // imageBatches passes the option on: orientation 6 differs from the stored pixels, 1 not.
  const batch = async (exif?: boolean) =>
    (await collect(imageBatches(files.slice(0, 8), { batchSize: 8, ...size, exif })))[0].x;
  const on = await batch();
  const off = await batch(false);
  const per = 3 * size.width * size.height;
  assertEquals(diff(on.subarray(0, per), off.subarray(0, per)).max, 0);
  assert(diff(on.subarray(5 * per, 6 * per), off.subarray(5 * per, 6 * per)).max > 0.1);
});

/** A JPEG start, an APP1 segment holding `tiff` after "Exif\0\0", and an end marker. */
function jpegWith(tiff: number[], id = [0x45, 0x78, 0x69, 0x66, 0, 0]): Uint8Array {
  const seg = [...id, ...tiff];
  const len = seg.length + 2;
  return new Uint8Array([0xff, 0xd8, 0xff, 0xe1, len >> 8, len & 0xff, ...seg, 0xff, 0xd9]);
}
/** TIFF data with one IFD0 entry (tag, type, count, 4 value bytes as given). */
function tiff(big: boolean, entry: number[], opts: { magic?: number; ifd?: number } = {}) {
  const u16 = (v: number) => big ? [v >> 8, v & 0xff] : [v & 0xff, v >> 8];
  const u32 = (v: number) => big ? [0, 0, ...u16(v)] : [...u16(v), 0, 0];
  return [
    ...(big ? [0x4d, 0x4d] : [0x49, 0x49]),
    ...u16(opts.magic ?? 42),
    ...u32(opts.ifd ?? 8),
    ...u16(1),
    ...entry,
    ...u32(0),
  ];
}
const orientationEntry = (big: boolean, value: number, type = 3, count = 1) => {
  const u16 = (v: number) => big ? [v >> 8, v & 0xff] : [v & 0xff, v >> 8];
  const count32 = big ? [0, 0, 0, count] : [count, 0, 0, 0];
  return [...u16(0x0112), ...u16(type), ...count32, ...u16(value), 0, 0];
};

Deno.test("exif: parser reads both byte orders and treats malformed data as orientation 1", () => {
  for (const big of [false, true]) {
    for (let o = 1; o <= 8; o++) {
      assertEquals(exifOrientation(jpegWith(tiff(big, orientationEntry(big, o)))), o);
    }
    // A LONG value is read as such (little-endian: low bytes first).
    const long = orientationEntry(big, 0, 4);
    if (big) long.splice(8, 4, 0, 0, 0, 6);
    else long.splice(8, 4, 6, 0, 0, 0);
    assertEquals(exifOrientation(jpegWith(tiff(big, long))), 6);
  }
  const good = tiff(false, orientationEntry(false, 6));
  const cases: [string, Uint8Array][] = [
    ["no EXIF at all", new Uint8Array([0xff, 0xd8, 0xff, 0xd9])],
    ["value 0", jpegWith(tiff(false, orientationEntry(false, 0)))],
    ["value 9", jpegWith(tiff(true, orientationEntry(true, 9)))],
    [
      "little-endian value in a big-endian file",
      jpegWith(tiff(true, orientationEntry(true, 0x600))),
    ],
    ["count 2", jpegWith(tiff(false, orientationEntry(false, 6, 3, 2)))],
    ["bad byte order", jpegWith([0x49, 0x4d, ...good.slice(2)])],
    ["bad magic", jpegWith(tiff(false, orientationEntry(false, 6), { magic: 43 }))],
    ["IFD offset past the end", jpegWith(tiff(false, orientationEntry(false, 6), { ifd: 999 }))],
    ["IFD offset 0xffffffff", jpegWith([0x49, 0x49, 42, 0, 0xff, 0xff, 0xff, 0xff])],
    ["entry cut short", jpegWith(good.slice(0, 16))],
    ["TIFF header cut short", jpegWith(good.slice(0, 5))],
    ["empty segment", jpegWith([])],
    ["Exif\\0 without the second NUL", jpegWith(good, [0x45, 0x78, 0x69, 0x66, 0, 1])],
    ["segment length past the end", jpegWith(good).subarray(0, 20)],
    ["zero segment length", new Uint8Array([0xff, 0xd8, 0xff, 0xe1, 0, 0, 0xff, 0xd9])],
    ["only the start of image", new Uint8Array([0xff, 0xd8, 0xff])],
    ["empty file", new Uint8Array()],
    ["not an image", new TextEncoder().encode("hello, world")],
  ];
  for (const [what, bytes] of cases) assertEquals(exifOrientation(bytes), 1, what);
  // Entries after a truncation are lost but the ones before count (as in Pillow).
  const two = [...good.slice(0, 8), 2, 0, ...orientationEntry(false, 3), 0x12, 0x01];
  assertEquals(exifOrientation(jpegWith(two)), 3);
  // Random bytes never throw.
  let x = 12345;
  for (let n = 0; n < 2000; n++) {
    const b = jpegWith(good);
    for (let k = 0; k < 4; k++) {
      x = (x * 1103515245 + 12345) >>> 0;
      b[6 + (x % (b.length - 8))] = x >>> 24;
    }
    const o = exifOrientation(b);
    assert(o >= 1 && o <= 8);
  }
});

Deno.test("exif: a malformed EXIF segment still decodes (as stored)", async () => {
  const bytes = read("o6.jpg");
  const at = bytes.findIndex((v, i) => v === 0x49 && bytes[i + 1] === 0x49 && bytes[i + 2] === 42);
  assert(at > 0);
  const bad = bytes.slice();
  bad[at] = 0x58; // "XI*": not a TIFF header
  assertEquals(exifOrientation(bad), 1);
  const img = await decodeImage(bad);
  assertEquals(diff(img.data, (await ref(manifest.rawRef)).data).max, 0);
});

Deno.test("exif: applyOrientation on grey and RGBA pixels, and 1 is the image itself", () => {
  // 3×2 grey: a b c / d e f
  const grey: RawImage = {
    width: 3,
    height: 2,
    channels: 1,
    data: new Uint8Array([1, 2, 3, 4, 5, 6]),
  };
  const want: Record<number, [number, number, number[]]> = {
    2: [3, 2, [3, 2, 1, 6, 5, 4]],
    3: [3, 2, [6, 5, 4, 3, 2, 1]],
    4: [3, 2, [4, 5, 6, 1, 2, 3]],
    5: [2, 3, [1, 4, 2, 5, 3, 6]],
    6: [2, 3, [4, 1, 5, 2, 6, 3]],
    7: [2, 3, [6, 3, 5, 2, 4, 1]],
    8: [2, 3, [3, 6, 2, 5, 1, 4]],
  };
  for (let o = 2; o <= 8; o++) {
    const g = applyOrientation(grey, o);
    assertEquals([g.width, g.height, [...g.data]], want[o], `orientation ${o}`);
    const rgba: RawImage = {
      width: 3,
      height: 2,
      channels: 4,
      data: new Uint8Array([...grey.data].flatMap((v) => [v, v + 10, v + 20, 255])),
    };
    const r = applyOrientation(rgba, o);
    assertEquals([...r.data], want[o][2].flatMap((v) => [v, v + 10, v + 20, 255]));
  }
  assert(applyOrientation(grey, 1) === grey);
  assert(applyOrientation(grey, 9) === grey);
});
