/**
 * The data stages draw from core's one generator (`core/random.ts`, tested in
 * tests/core/random_test.ts) through `deriveSeed`: these pin the streams the stages use,
 * which the merge of the stages' former generator into core's left unchanged.
 */
import { assertEquals, assertNotEquals } from "./_helpers.ts";
import { deriveSeed, mixSeed, Rng } from "../../core/random.ts";
import { permutation } from "../../stages/shuffle.ts";
import { augmentRng } from "../../stages/augment.ts";

Deno.test("stage streams: shuffle's permutation is pinned (same as before the merge)", () => {
  assertEquals([...permutation(10, 5, 0)], [3, 1, 0, 7, 9, 8, 6, 5, 2, 4]);
  assertEquals([...permutation(10, 5, 1)], [4, 5, 1, 8, 3, 9, 2, 7, 0, 6]);
});

Deno.test("stage streams: augment and split seeds are the derived streams of the run seed", () => {
  assertEquals(deriveSeed(3, "augment"), 3048518496);
  assertEquals(deriveSeed(1, "split", 2), 175575247);
  const a = augmentRng({ seed: 3 }), b = new Rng(deriveSeed(3, "augment", 0));
  assertEquals(a.state(), b.state());
  assertNotEquals(augmentRng({ seed: 3, epoch: 1 }).state(), a.state());
  assertNotEquals(deriveSeed(3, "augment"), deriveSeed(3, "shuffle"));
  assertEquals(deriveSeed(3, "shuffle", 4), mixSeed(3, 4, 0x5f5));
});

Deno.test("stage streams: a stage generator's saved state resumes its sequence", () => {
  const a = augmentRng({ seed: 9, epoch: 2 });
  a.nextU32();
  const saved = a.state();
  const want = [a.nextU32(), a.nextU32()];
  const b = augmentRng({ seed: 0, rng: Rng.fromState(saved) });
  assertEquals([b.nextU32(), b.nextU32()], want);
});
