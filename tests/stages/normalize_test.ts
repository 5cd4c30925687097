import { assertEquals, matches, REF, summary, TRAIN } from "./_helpers.ts";
import { decodeImage } from "../../stages/codec.ts";
import { normalizeImage } from "../../stages/normalize.ts";

// torchvision 0.14 values, made by fixtures/resize/make_resize.py.
const refs = JSON.parse(Deno.readTextFileSync(`${REF}/refs.json`));

Deno.test("normalize: RGB JPEG equals torchvision ToTensor + Normalize(ImageNet)", async () => {
  const img = normalizeImage(await decodeImage(Deno.readFileSync(`${TRAIN}/buildings/1.jpg`)));
  assertEquals([img.channels, img.height, img.width], [3, 150, 150]);
  matches(summary(img, refs.probe), refs.normalize_rgb, "rgb");
});

Deno.test("normalize: grayscale becomes three channels like convert('RGB')", async () => {
  const grey = await decodeImage(Deno.readFileSync(`${TRAIN}/glacier/gray.jpg`));
  assertEquals(grey.channels, 1);
  const img = normalizeImage(grey);
  assertEquals(img.channels, 3);
  matches(summary(img, refs.probe), refs.normalize_grey_to_rgb, "grey");
});

Deno.test("normalize: alpha is dropped; RGB → 1 channel uses Pillow's L luma", async () => {
  const rgba = { width: 1, height: 1, channels: 4, data: new Uint8Array([255, 0, 51, 7]) };
  const out = normalizeImage(rgba, { mean: [0], std: [1] });
  assertEquals(Array.from(out.data).map((v) => Math.round(v * 255)), [255, 0, 51]);
  const rgb = await decodeImage(Deno.readFileSync(`${TRAIN}/buildings/1.jpg`));
  const l = normalizeImage(rgb, { channels: 1 });
  let sum = 0;
  for (const v of l.data) sum += Math.round(v * 255);
  assertEquals(sum, refs.luma_L_sum);
});
