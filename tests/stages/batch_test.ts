import { assertEquals, assertRejects, collect } from "./_helpers.ts";
import { batch } from "../../stages/batch.ts";
import type { Sample } from "../../stages/types.ts";

function sample(i: number, size = 2): Sample {
  const data = new Float32Array(3 * size * size).fill(i);
  return {
    image: { channels: 3, height: size, width: size, data, mean: [0, 0, 0], std: [1, 1, 1] },
    label: i % 3,
    path: `p${i}`,
  };
}

Deno.test("batch: NCHW float32 with labels and paths; last partial kept by default", async () => {
  const out = await collect(
    ReadableStream.from(Array.from({ length: 7 }, (_, i) => sample(i))).pipeThrough(
      batch({ size: 3 }),
    ),
  );
  assertEquals(out.map((b) => b.shape), [[3, 3, 2, 2], [3, 3, 2, 2], [1, 3, 2, 2]]);
  assertEquals(out[1].x.length, 36);
  assertEquals(out[1].x[12], 4); // sample 4 starts at index 1 * 12
  assertEquals(Array.from(out[1].labels), [0, 1, 2]);
  assertEquals(out[2].paths, ["p6"]);
  assertEquals(out[2].x.length, 12);
  assertEquals(out[2].labels.length, 1);
});

Deno.test("batch: dropLast drops the partial batch", async () => {
  const out = await collect(
    ReadableStream.from(Array.from({ length: 7 }, (_, i) => sample(i))).pipeThrough(
      batch({ size: 3, dropLast: true }),
    ),
  );
  assertEquals(out.length, 2);
});

Deno.test("batch: mismatched sizes and un-normalized images fail naming the file", async () => {
  await assertRejects(
    () => collect(ReadableStream.from([sample(0), sample(1, 3)]).pipeThrough(batch({ size: 4 }))),
    (e: Error) => e.message.includes("p1"),
  );
  const raw: Sample = {
    image: { width: 1, height: 1, channels: 3, data: new Uint8Array(3) },
    label: 0,
    path: "r",
  };
  await assertRejects(
    () => collect(ReadableStream.from([raw]).pipeThrough(batch({ size: 1 }))),
    (e: Error) => e.message.includes("not normalized"),
  );
});
