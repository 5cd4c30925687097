/**
 * CMYK and YCCK JPEGs against Pillow: fixtures/cmyk holds 4-component JPEGs (Pillow's own
 * CMYK saves, one without the Adobe marker, subsampled, progressive, with restarts, hand-made
 * YCCK, one with EXIF orientation 6) and Pillow's `convert("RGB")` of each as raw RGB
 * (fixtures/cmyk/make_cmyk.py). The decoder (stages/jpeg_cmyk.ts) does libjpeg-turbo's
 * integer arithmetic and Pillow's cmyk2rgb, so the tolerance is 0.
 */
import { join } from "node:path";
import { assert, assertEquals, assertRejects, collect, diff, ROOT } from "./_helpers.ts";
import { decodeAndResize, DecodeError, decodeImage, sniff } from "../../stages/codec.ts";
import { decode } from "../../stages/decode.ts";
import { exifOrientation } from "../../stages/exif.ts";
import { fileSource } from "../../stages/load.ts";
import { resizeBilinear } from "../../stages/resize.ts";
import { scanDataset } from "../../data.ts";
import { tempDirSync } from "../_temp.ts";

const DIR = ROOT + "fixtures/cmyk";
const read = (name: string) => Deno.readFileSync(`${DIR}/${name}`);
interface Case {
  file: string;
  ref: string;
  width: number;
  height: number;
  adobeTransform: number | null;
  sampling: string[];
  orientation: number;
}
const manifest: { files: Case[] } = JSON.parse(Deno.readTextFileSync(`${DIR}/manifest.json`));
const upright = manifest.files.filter((c) => c.orientation === 1);

Deno.test("cmyk: each CMYK / YCCK fixture decodes to Pillow's convert('RGB') (diff 0)", async () => {
  const lines: string[] = [];
  const kinds = new Set<string>();
  for (const c of manifest.files) {
    assertEquals(sniff(read(c.file)).channels, 4, c.file);
    const img = await decodeImage(read(c.file));
    assertEquals([img.width, img.height, img.channels], [c.width, c.height, 3], c.file);
    const d = diff(img.data, read(c.ref));
    lines.push(`${c.file} max ${d.max} mean ${d.mean}`);
    assertEquals(d.max, 0, `${c.file}: max abs diff ${d.max}`);
    kinds.add(`${c.adobeTransform}:${c.sampling.join(",")}`);
  }
  // CMYK with and without the marker, YCCK; 1x1, 2x2, 2x1 and 1x2 first components.
  assert(kinds.size >= 6, [...kinds].join(" "));
  console.log(`vs Pillow: ${lines.join(", ")}`);
});

Deno.test("cmyk: the pipelines' path (decodeAndResize, decode stage inline and in a worker)", async () => {
  const size = { width: 20, height: 12 };
  for (const c of upright) {
    const ref = read(c.ref);
    const plain = await decodeAndResize(read(c.file));
    assertEquals(plain.channels, 3, c.file);
    assertEquals(plain.data, ref, c.file);
    // Resizing Pillow's RGB gives the same as decoding and resizing in one go.
    const rgb = { width: c.width, height: c.height, channels: 3, data: ref };
    const want = resizeBilinear(rgb, size.width, size.height, false);
    assertEquals((await decodeAndResize(read(c.file), size)).data, want.data, c.file);
  }
  const files = upright.map((c, i) => ({ path: `${DIR}/${c.file}`, label: i }));
  for (const workers of [0, 1]) {
    const out = await collect(fileSource(files).pipeThrough(decode({ workers })));
    assertEquals(out.length, files.length, `workers ${workers}`);
    for (const [i, c] of upright.entries()) {
      assertEquals(out[i].image.channels, 3, c.file);
      assertEquals(out[i].image.data, read(c.ref), `${c.file} (workers ${workers})`);
    }
  }
});

Deno.test("cmyk: EXIF orientation applies to a CMYK JPEG as Pillow's exif_transpose", async () => {
  const c = manifest.files.find((f) => f.orientation === 6)!;
  assertEquals(exifOrientation(read(c.file)), 6);
  const img = await decodeImage(read(c.file));
  assertEquals([img.width, img.height], [32, 48]);
  assertEquals(img.data, read(c.ref));
  // Without the transpose it is the stored picture: the scan is cmyk.jpg's.
  const raw = await decodeImage(read(c.file), { exif: false });
  assertEquals([raw.width, raw.height], [48, 32]);
  assertEquals(raw.data, read("cmyk.rgb"));
  const size = { width: 10, height: 16 };
  const [s] = await collect(
    fileSource([{ path: `${DIR}/${c.file}`, label: 0 }]).pipeThrough(
      decode({ workers: 0, resize: size }),
    ),
  );
  const rgb = { width: 32, height: 48, channels: 3, data: read(c.ref) };
  assertEquals(s.image.data, resizeBilinear(rgb, size.width, size.height, false).data);
});

Deno.test("cmyk: broken CMYK files give a DecodeError with the reason", async () => {
  const good = read("cmyk.jpg");
  const reject = (bytes: Uint8Array, why: RegExp) =>
    assertRejects(
      () => decodeImage(bytes),
      (e: Error) => e instanceof DecodeError && why.test(e.message),
    );
  // Cut in the scan: without an end marker sniff says so; with one the decoder runs dry.
  const cut = good.subarray(0, Math.floor(good.length * 0.6));
  await reject(cut, /^truncated JPEG \(no end-of-image/);
  await reject(Uint8Array.from([...cut, 0xff, 0xd9]), /^truncated JPEG \(premature end/);
  // A frame header with sampling factors of 0.
  const sof = good.findIndex((b, i) => b === 0xff && good[i + 1] === 0xc0);
  const bad = good.slice();
  bad[sof + 11] = 0;
  await reject(bad, /^corrupt JPEG \(bogus sampling factors\)/);
  // An arithmetic-coded frame (SOF9) is refused by name.
  const arith = good.slice();
  arith[sof + 1] = 0xc9;
  await reject(arith, /^corrupt JPEG \(unsupported JPEG process: SOF type 0xc9\)/);
  // …and the good file still decodes.
  assertEquals((await decodeImage(good)).width, 48);
});

Deno.test("cmyk: `deno task data` counts CMYK / YCCK files as usable, not corrupt", async () => {
  const dir = tempDirSync();
  try {
    for (const [i, c] of upright.entries()) {
      const cls = join(dir, i % 2 ? "ycck_or_odd" : "even");
      Deno.mkdirSync(cls, { recursive: true });
      Deno.copyFileSync(`${DIR}/${c.file}`, join(cls, c.file));
    }
    const scan = await scanDataset(dir, { workers: 0 });
    assertEquals(scan.skipped, []);
    const usable = Object.values(scan.usable).flat().reduce((a, b) => a + b, 0);
    assertEquals(usable, upright.length);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
