import { assert, assertEquals } from "./_helpers.ts";
import { decodeImage } from "../../stages/codec.ts";
import { resize, resizeBilinear } from "../../stages/resize.ts";
import { collect, diff, REF, TRAIN } from "./_helpers.ts";

// Pillow 9.4 `convert("RGB").resize((w, h), Image.BILINEAR)`, made by fixtures/resize/make_resize.py.
const cases: [string, number, number][] = [
  [`${REF}/card640x480.png`, 150, 150],
  [`${REF}/card640x480.png`, 224, 224],
  [`${REF}/card97x61.png`, 150, 150],
  [`${REF}/card97x61.png`, 50, 40],
  [`${REF}/alpha80x60.png`, 150, 150],
  [`${TRAIN}/mountain/wide_500x374.jpg`, 150, 150],
  [`${TRAIN}/buildings/short_150x113.jpg`, 150, 150],
];

for (const [src, w, h] of cases) {
  const name = src.split("/").pop()!.replace(/\.(png|jpg)$/, "");
  Deno.test(`resize: ${name} → ${w}×${h} agrees with Pillow's bilinear`, async () => {
    const img = await decodeImage(Deno.readFileSync(src));
    const out = resizeBilinear(img, w, h);
    assertEquals([out.width, out.height, out.channels], [w, h, 3]);
    const d = diff(out.data, Deno.readFileSync(`${REF}/${name}_${w}x${h}.rgb`));
    assert(d.mean <= 1, `mean difference ${d.mean} grey levels`);
    // The algorithm is Pillow's own (same fixed-point coefficients): expect exact equality.
    assertEquals(d.max, 0, `max difference ${d.max}`);
  });
}

Deno.test("resize: same size is a no-op for RGB and drops alpha for RGBA", () => {
  const rgb = { width: 2, height: 1, channels: 3, data: new Uint8Array([1, 2, 3, 4, 5, 6]) };
  assertEquals(resizeBilinear(rgb, 2, 1), rgb);
  const rgba = { width: 1, height: 1, channels: 4, data: new Uint8Array([9, 8, 7, 6]) };
  assertEquals(resizeBilinear(rgba, 1, 1).data, new Uint8Array([9, 8, 7]));
  assertEquals(resizeBilinear(rgba, 1, 1, true).channels, 4);
});

Deno.test("resize stage: every fixture size becomes 150×150", async () => {
  const files = ["buildings/short_150x113.jpg", "mountain/wide_500x374.jpg", "glacier/gray.jpg"];
  const samples = await Promise.all(files.map(async (f) => ({
    image: await decodeImage(Deno.readFileSync(`${TRAIN}/${f}`)),
    label: 0,
    path: f,
  })));
  const out = await collect(ReadableStream.from(samples).pipeThrough(resize()));
  assertEquals(out.map((s) => [s.image.width, s.image.height]), [[150, 150], [150, 150], [
    150,
    150,
  ]]);
  assertEquals(out[2].image.channels, 1);
});
