import { assert, assertEquals, assertRejects, collect, INTEL } from "./_helpers.ts";
import { decode } from "../../stages/decode.ts";
import { fileSource, openImageDataset } from "../../stages/load.ts";
import { prefetchMap } from "../../stages/workers/prefetch.ts";
import { newReport, type SkippedFile } from "../../stages/types.ts";

const BAD = ["forest/empty.jpg", "mountain/truncated.jpg", "street/not_an_image.jpg"];

Deno.test("decode stage (2 workers): skips bad files with a named warning, keeps order", async () => {
  const ds = openImageDataset(INTEL);
  const report = newReport();
  const warned: SkippedFile[] = [];
  const out = await collect(
    fileSource(ds.train).pipeThrough(
      decode({ workers: 2, report, onSkip: (s) => warned.push(s) }),
    ),
  );
  assertEquals(out.length, ds.train.length - 3);
  assertEquals(report.decoded, out.length);
  assertEquals(report.skipped.map((s) => s.path.split("seg_train/")[2]), BAD);
  assertEquals(warned, report.skipped);
  const expectedOrder = ds.train.map((f) => f.path).filter((p) => !BAD.some((b) => p.endsWith(b)));
  assertEquals(out.map((s) => s.path), expectedOrder);
  const byName = new Map(out.map((s) => [s.path.split("/").pop(), s.image]));
  assertEquals(byName.get("gray.jpg")!.channels, 1);
  assertEquals(byName.get("alpha.png")!.channels, 4);
  assertEquals(byName.get("wide_500x374.jpg")!.width, 500);
});

Deno.test("decode stage: workers and same-thread decoding agree; resize in the worker", async () => {
  const ds = openImageDataset(INTEL);
  const a = await collect(fileSource(ds.val).pipeThrough(decode({ workers: 0 })));
  const b = await collect(fileSource(ds.val).pipeThrough(decode({ workers: 2 })));
  assertEquals(a, b);
  const r = await collect(
    fileSource(ds.pred).pipeThrough(decode({ workers: 1, resize: { width: 150, height: 150 } })),
  );
  assert(r.every((s) => s.image.width === 150 && s.image.height === 150 && s.image.channels === 3));
});

Deno.test("decode stage: --strict makes a bad file fatal, naming it", async () => {
  const ds = openImageDataset(INTEL);
  await assertRejects(
    () => collect(fileSource(ds.train).pipeThrough(decode({ workers: 1, strict: true }))),
    (e: Error) => e.message.includes("forest/empty.jpg") && e.message.includes("strict"),
  );
});

Deno.test("prefetch: never more than `depth` jobs in flight, output in order", async () => {
  let inFlight = 0;
  let peak = 0;
  const job = async (i: number) => {
    inFlight++;
    peak = Math.max(peak, inFlight);
    await new Promise((r) => setTimeout(r, (i * 7) % 5));
    inFlight--;
    return { ok: true as const, value: i * 2 };
  };
  const stage = prefetchMap<number, number, number>(job, 3, (_, o, c) => {
    if (o.ok) c.enqueue(o.value);
  });
  const out = await collect(
    ReadableStream.from(Array.from({ length: 30 }, (_, i) => i)).pipeThrough(stage),
  );
  assertEquals(out, Array.from({ length: 30 }, (_, i) => i * 2));
  assert(peak <= 3, `peak ${peak}`);
});
