import { assertEquals, assertRejects, assertThrows } from "./_helpers.ts";
import { DecodeError, decodeImage, sniff } from "../../stages/codec.ts";
import { REF, TRAIN } from "./_helpers.ts";

const read = (p: string) => Deno.readFileSync(p);

Deno.test("decode: RGB JPEG equals Pillow's decoded pixels exactly", async () => {
  const img = await decodeImage(read(`${TRAIN}/buildings/1.jpg`));
  assertEquals([img.width, img.height, img.channels], [150, 150, 3]);
  assertEquals(img.data, read(`${REF}/decoded_1_jpg.rgb`));
});

Deno.test("decode: grayscale JPEG is 1 channel, equal to Pillow's L pixels", async () => {
  const img = await decodeImage(read(`${TRAIN}/glacier/gray.jpg`));
  assertEquals(img.channels, 1);
  assertEquals(img.data, read(`${REF}/decoded_gray_jpg.l`));
});

Deno.test("decode: PNG with alpha is RGBA, equal to Pillow's pixels", async () => {
  const img = await decodeImage(read(`${TRAIN}/sea/alpha.png`));
  assertEquals(img.channels, 4);
  assertEquals(img.data, read(`${REF}/decoded_alpha_png.rgba`));
});

Deno.test("decode: odd sizes keep their size (150×113, 500×374)", async () => {
  const a = await decodeImage(read(`${TRAIN}/buildings/short_150x113.jpg`));
  const b = await decodeImage(read(`${TRAIN}/mountain/wide_500x374.jpg`));
  assertEquals([a.width, a.height, b.width, b.height], [150, 113, 500, 374]);
});

Deno.test("decode: bad files give a DecodeError with the reason", async () => {
  const cases: [string, RegExp][] = [
    ["forest/empty.jpg", /empty file/],
    ["mountain/truncated.jpg", /truncated JPEG/],
    ["street/not_an_image.jpg", /not a JPEG or PNG/],
  ];
  for (const [f, why] of cases) {
    await assertRejects(
      () => decodeImage(read(`${TRAIN}/${f}`)),
      (e: Error) => e instanceof DecodeError && new RegExp(why.source).test(e.message),
    );
  }
  // A corrupt JPEG (valid start, garbage markers) is caught by the decoder; like Pillow,
  // mere warnings in the scan data ("extraneous bytes") are not fatal.
  const good = read(`${TRAIN}/buildings/1.jpg`);
  const bad = good.slice();
  for (let i = 600; i < 2000; i++) bad[i] = (i * 7) & 0xff;
  await assertRejects(
    () => decodeImage(bad),
    (e: Error) => e instanceof DecodeError && new RegExp("corrupt JPEG").test(e.message),
  );
  // …and the decoder still works afterwards.
  assertEquals((await decodeImage(good)).width, 150);
});

Deno.test("sniff: truncated PNG is caught before decoding", () => {
  const png = read(`${TRAIN}/sea/alpha.png`);
  assertThrows(
    () => sniff(png.subarray(0, 200)),
    (e: Error) => e instanceof DecodeError && e.message.includes("truncated PNG"),
  );
});
