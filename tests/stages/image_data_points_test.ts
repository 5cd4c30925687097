/**
 * `openImageData`'s named insertion points: stages after decode (every stream), after
 * augment (the training stream only) and after batch (every stream), each made fresh per
 * stream; with a decode-point stage the augmentation moves out of the workers and still
 * gives the same images.
 */
import { fileURLToPath } from "node:url";
import { assert, assertEquals } from "../assert.ts";
import { type DataStages, openImageData } from "../../stages/image_data.ts";
import type { Batch, Sample } from "../../stages/types.ts";
import { tempDir } from "../_temp.ts";

const FIXTURES = fileURLToPath(new URL("../../fixtures/intel/", import.meta.url));

/** Two classes, 4 training and 2 test images each, all decodable. */
async function clean(): Promise<string> {
  const to = await tempDir("points_");
  for (const [split, n] of [["seg_train", 4], ["seg_test", 2]] as const) {
    for (const cls of ["buildings", "forest"]) {
      const from = `${FIXTURES}${split}/${split}/${cls}`;
      const jpgs = [...Deno.readDirSync(from)].map((e) => e.name).filter((f) =>
        /^\d+\.jpg$/.test(f)
      )
        .sort().slice(0, n);
      await Deno.mkdir(`${to}/${split}/${cls}`, { recursive: true });
      for (const f of jpgs) await Deno.copyFile(`${from}/${f}`, `${to}/${split}/${cls}/${f}`);
    }
  }
  return to;
}

async function all(s: ReadableStream<Batch>): Promise<Batch[]> {
  const out: Batch[] = [];
  for await (const b of s) out.push(b);
  return out;
}

/** A stage that records what passes through it under `name`. */
function tap<T>(seen: Record<string, T[]>, name: string) {
  return () =>
    new TransformStream<T, T>({
      transform(r, c) {
        (seen[name] ??= []).push(r);
        c.enqueue(r);
      },
    });
}

Deno.test("image data: stages after decode, augment and batch see the records of their streams", async () => {
  const root = await clean();
  const seen: Record<string, (Sample | Batch)[]> = {};
  const stages: DataStages = {
    decode: [tap<Sample>(seen as Record<string, Sample[]>, "decode")],
    augment: [tap<Sample>(seen as Record<string, Sample[]>, "augment")],
    batch: [tap<Batch>(seen as Record<string, Batch[]>, "batch")],
  };
  const opts = { root, seed: 3, size: 16, workers: 1, augment: { hflip: 0.5 } };
  const plain = openImageData(opts);
  const staged = openImageData({ ...opts, stages });
  try {
    const [a, b] = [await all(plain.train(1, 3)), await all(staged.train(1, 3))];
    // The same images whether the augmentation ran in the workers or after the stage.
    assertEquals(b.map((x) => x.paths), a.map((x) => x.paths));
    assertEquals(b.map((x) => x.x), a.map((x) => x.x));
    assertEquals(seen.decode.length, 8);
    assertEquals(seen.augment.length, 8);
    assertEquals(seen.batch.length, 3);
    const test = await all(staged.test(4));
    assertEquals(test.map((x) => x.paths), (await all(plain.test(4))).map((x) => x.paths));
    assertEquals(seen.decode.length, 12); // the test stream passes the decode point…
    assertEquals(seen.augment.length, 8); // …not the augment point
    assertEquals(seen.batch.length, 4);
    assert((seen.decode as Sample[]).slice(8).every((s) => s.path.includes("seg_test")));
  } finally {
    plain.close();
    staged.close();
  }
});

Deno.test("image data: a batch stage's changes reach the consumer; stages are fresh per stream", async () => {
  const root = await clean();
  let made = 0;
  const zero = () => {
    made++;
    return new TransformStream<Batch, Batch>({
      transform: (b, c) => c.enqueue({ ...b, x: new Float32Array(b.x.length) }),
    });
  };
  const data = openImageData({ root, seed: 0, size: 8, workers: 1, stages: { batch: [zero] } });
  try {
    const batches = [...await all(data.train(1, 4)), ...await all(data.test(4))];
    assert(batches.every((b) => b.x.every((v) => v === 0)));
    assertEquals(made, 2);
  } finally {
    data.close();
  }
});
