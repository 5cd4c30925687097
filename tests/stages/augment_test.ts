import {
  assert,
  assertEquals,
  assertNotEquals,
  collect,
  diff,
  matches,
  near,
  REF,
  summary,
  TRAIN,
} from "./_helpers.ts";
import {
  adjustBrightness,
  adjustContrast,
  adjustHue,
  adjustSaturation,
  augment,
  augmentImage,
  cropBox,
  warp,
} from "../../stages/augment.ts";
import { decodeImage } from "../../stages/codec.ts";
import { normalizeImage } from "../../stages/normalize.ts";
import { Rng } from "../../core/random.ts";
import type { FloatImage, Sample } from "../../stages/types.ts";

const refs = JSON.parse(Deno.readTextFileSync(`${REF}/refs.json`));
const raw = await decodeImage(Deno.readFileSync(`${TRAIN}/buildings/1.jpg`));
/** [0, 1] values, as torchvision's to_tensor gives. */
const unit = normalizeImage(raw, { mean: [0], std: [1] });
const img = normalizeImage(raw);

function applied(f: (d: Float32Array) => void): FloatImage {
  const d = unit.data.slice();
  f(d);
  return { ...unit, data: d };
}

Deno.test("augment: colour adjustments equal torchvision's adjust_*", () => {
  const p = refs.probe;
  matches(
    summary(applied((d) => adjustBrightness(d, 1.3)), p),
    refs["brightness_1.3"],
    "brightness",
  );
  matches(summary(applied((d) => adjustContrast(d, 3, 0.6)), p), refs["contrast_0.6"], "contrast");
  matches(
    summary(applied((d) => adjustSaturation(d, 3, 1.5)), p),
    refs["saturation_1.5"],
    "sat",
    2e-5,
  );
  matches(summary(applied((d) => adjustHue(d, 3, 0.1)), p), refs["hue_0.1"], "hue", 1e-4);
});

Deno.test("augment: rotation by 90° equals torchvision's rotate (counter-clockwise)", () => {
  const a = Math.PI / 2, c = 75;
  const m = [
    Math.cos(a),
    -Math.sin(a),
    c - Math.cos(a) * c + Math.sin(a) * c,
    Math.sin(a),
    Math.cos(a),
    c - Math.sin(a) * c - Math.cos(a) * c,
    0,
    0,
    1,
  ];
  const out = warp(unit, m, "nearest");
  matches(summary(out, refs.probe), refs.rotate90, "rotate90");
  const bil = warp(unit, m, "bilinear");
  assert(diff(bil.data, out.data).max < 1e-5);
});

Deno.test("augment: flips are exact; identity options leave the image alone", () => {
  const rng = new Rng(0);
  const h = augmentImage(img, rng, { seed: 0, hflip: 1 });
  const w = 150, hw = 150 * 150;
  for (const [c, y, x] of [[0, 3, 0], [2, 149, 77]]) {
    assertEquals(h.data[c * hw + y * w + x], img.data[c * hw + y * w + (w - 1 - x)]);
  }
  const v = augmentImage(img, rng, { seed: 0, vflip: 1 });
  assertEquals(v.data[5 * w + 9], img.data[(149 - 5) * w + 9]);
  const same = augmentImage(img, rng, {
    seed: 0,
    crop: { scale: [1, 1], ratio: [1, 1] },
    perspective: { distortion: 0, p: 1 },
  });
  assert(diff(same.data, img.data).max < 1e-5);
});

Deno.test("augment: random resized crop box follows torchvision's rules", () => {
  const rng = new Rng(3);
  for (let i = 0; i < 200; i++) {
    const [top, left, h, w] = cropBox(rng, 150, 150, [0.08, 1], [3 / 4, 4 / 3]);
    assert(top >= 0 && left >= 0 && top + h <= 150 && left + w <= 150);
    const area = (h * w) / 22500;
    assert(area > 0.06 && area <= 1.02, `area ${area}`);
  }
});

Deno.test("augment: outside areas are black after normalization", () => {
  const out = augmentImage(img, new Rng(1), { seed: 1, rotate: 45, interpolation: "nearest" });
  const corner = [0, 1, 2].map((c) => out.data[c * 22500]);
  corner.forEach((v, c) => near(v, -img.mean[c] / img.std[c], 1e-6, "fill"));
});

const OPTS = {
  hflip: 0.5,
  vflip: 0.2,
  rotate: 15,
  crop: { scale: [0.5, 1] as [number, number] },
  perspective: { distortion: 0.3, p: 0.5 },
  jitter: { brightness: 0.3, contrast: 0.3, saturation: 0.3, hue: 0.05 },
};

async function epoch(seed: number, e: number): Promise<Sample[]> {
  const samples = Array.from({ length: 4 }, (_, i) => ({ image: img, label: 0, path: `p${i}` }));
  return await collect(
    ReadableStream.from(samples).pipeThrough(augment({ seed, epoch: e, ...OPTS })),
  );
}

Deno.test("augment stage: same seed and epoch repeat exactly; new epoch gives fresh variants", async () => {
  const a = await epoch(7, 0), b = await epoch(7, 0), c = await epoch(7, 1), d = await epoch(8, 0);
  assertEquals(a.map((s) => s.image.data), b.map((s) => s.image.data));
  assertNotEquals(a.map((s) => s.image.data), c.map((s) => s.image.data));
  assertNotEquals(a.map((s) => s.image.data), d.map((s) => s.image.data));
  assertNotEquals(a[0].image.data, a[1].image.data); // each image its own draw
  assert(a.every((s) => s.image.data.every(Number.isFinite)));
});

Deno.test("augment stage: a saved generator state resumes the same sequence", async () => {
  const rng = new Rng(11);
  const samples = (n: number) =>
    Array.from({ length: n }, () => ({ image: img, label: 0, path: "x" }));
  await collect(ReadableStream.from(samples(2)).pipeThrough(augment({ seed: 0, rng, ...OPTS })));
  const saved = rng.state();
  const next = await collect(
    ReadableStream.from(samples(2)).pipeThrough(augment({ seed: 0, rng, ...OPTS })),
  );
  const resumed = await collect(
    ReadableStream.from(samples(2)).pipeThrough(
      augment({ seed: 0, rng: Rng.fromState(saved), ...OPTS }),
    ),
  );
  assertEquals(resumed.map((s) => s.image.data), next.map((s) => s.image.data));
});
