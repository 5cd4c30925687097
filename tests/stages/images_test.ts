import { assert, assertEquals, assertNotEquals, collect, INTEL } from "./_helpers.ts";
import { imageBatches } from "../../stages/images.ts";
import { openImageDataset } from "../../stages/load.ts";
import { newReport } from "../../stages/types.ts";
import { DecodePool } from "../../stages/workers/prefetch.ts";

const ds = openImageDataset(INTEL);
const AUG = { hflip: 0.5, rotate: 10, jitter: { brightness: 0.2, contrast: 0.2 } };

Deno.test("chain: fixtures → 150×150 NCHW batches; bad files skipped and counted", async () => {
  const report = newReport();
  const batches = await collect(imageBatches(ds.train, {
    seed: 1,
    batchSize: 8,
    augment: AUG,
    report,
    onSkip: () => {},
  }));
  assertEquals(report.skipped.length, 3);
  // 124 usable training images: 15 full batches of 8 and one of 4.
  assertEquals(report.decoded, 124);
  assertEquals(batches.map((b) => b.shape[0]), [...Array(15).fill(8), 4]);
  assert(batches.every((b) => b.shape.slice(1).join() === "3,150,150"));
  assert(batches.every((b) => b.x.length === b.shape[0] * 3 * 150 * 150));
  assert(batches.every((b) => b.x.every(Number.isFinite)));
  const labels = batches.flatMap((b) => Array.from(b.labels));
  assertEquals(new Set(labels).size, 6);
});

Deno.test("chain: same seed and epoch repeat exactly; the next epoch differs", async () => {
  const pool = new DecodePool(2);
  const run = (epoch: number) =>
    collect(imageBatches(ds.val, { seed: 5, epoch, batchSize: 5, augment: AUG, pool }));
  const [a, b, c] = [await run(0), await run(0), await run(1)];
  pool.close();
  assertEquals(a.map((x) => x.paths), b.map((x) => x.paths));
  assertEquals(a.map((x) => x.x), b.map((x) => x.x));
  assertNotEquals(a.map((x) => x.paths), c.map((x) => x.paths));
});

Deno.test("chain: work done in the workers equals the separate stages on this thread", async () => {
  const { fileSource } = await import("../../stages/load.ts");
  const { decode } = await import("../../stages/decode.ts");
  const { resize } = await import("../../stages/resize.ts");
  const { normalize } = await import("../../stages/normalize.ts");
  const { augment } = await import("../../stages/augment.ts");
  const opts = { ...AUG, crop: { scale: [0.5, 1] as [number, number] }, seed: 3, epoch: 2 };
  const inWorkers = await collect(
    fileSource(ds.val, { seed: 3, epoch: 2 }).pipeThrough(
      decode({ workers: 2, resize: { width: 150, height: 150 }, normalize: {}, augment: opts }),
    ),
  );
  const staged = await collect(
    fileSource(ds.val, { seed: 3, epoch: 2 })
      .pipeThrough(decode({ workers: 0 }))
      .pipeThrough(resize())
      .pipeThrough(normalize())
      .pipeThrough(augment(opts)),
  );
  assertEquals(inWorkers.map((s) => s.path), staged.map((s) => s.path));
  assertEquals(inWorkers.map((s) => s.image.data), staged.map((s) => s.image.data));
});
