import { assert, assertEquals, assertNotEquals } from "./_helpers.ts";
import { mixSeed, Random } from "../../stages/random.ts";

Deno.test("Random: same seed gives the same sequence; different seeds differ", () => {
  const a = new Random(42), b = new Random(42), c = new Random(43);
  const sa = Array.from({ length: 8 }, () => a.nextU32());
  assertEquals(sa, Array.from({ length: 8 }, () => b.nextU32()));
  assertNotEquals(sa, Array.from({ length: 8 }, () => c.nextU32()));
});

Deno.test("Random: saved state resumes the same sequence", () => {
  const a = new Random(7);
  for (let i = 0; i < 5; i++) a.float();
  const saved = a.state();
  const next = Array.from({ length: 5 }, () => a.float());
  const b = Random.fromState(saved);
  assertEquals(Array.from({ length: 5 }, () => b.float()), next);
});

Deno.test("Random: floats in [0,1) with a uniform mean; int in range", () => {
  const r = new Random(1);
  let sum = 0;
  for (let i = 0; i < 20000; i++) {
    const f = r.float();
    assert(f >= 0 && f < 1);
    sum += f;
    const k = r.int(6);
    assert(k >= 0 && k < 6 && Number.isInteger(k));
  }
  assert(Math.abs(sum / 20000 - 0.5) < 0.01);
});

Deno.test("mixSeed: order and value sensitive", () => {
  assertNotEquals(mixSeed(1, 2), mixSeed(2, 1));
  assertNotEquals(mixSeed(0, 0), mixSeed(0, 1));
  assertEquals(mixSeed(5, 9), mixSeed(5, 9));
});
