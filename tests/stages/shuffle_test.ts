import { assertEquals, assertNotEquals, collect } from "./_helpers.ts";
import { permutation, shuffle, shuffleFiles } from "../../stages/shuffle.ts";

Deno.test("shuffle: permutation is a permutation, fresh per epoch, repeatable", () => {
  const p0 = permutation(1000, 5, 0);
  assertEquals([...p0].sort((a, b) => a - b), Array.from({ length: 1000 }, (_, i) => i));
  assertEquals(permutation(1000, 5, 0), p0);
  assertNotEquals(permutation(1000, 5, 1), p0);
  assertNotEquals(permutation(1000, 6, 0), p0);
});

Deno.test("shuffle stage: emits the same entries in the seeded order", async () => {
  const files = Array.from({ length: 20 }, (_, i) => ({ path: `f${i}`, label: i % 4 }));
  const out = await collect(ReadableStream.from(files).pipeThrough(shuffle({ seed: 1, epoch: 2 })));
  assertEquals(out, shuffleFiles(files, 1, 2));
  assertNotEquals(out, files);
});
