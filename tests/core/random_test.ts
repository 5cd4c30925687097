import { assert, assertEquals, assertRejects } from "../assert.ts";
import { deriveSeed, mixSeed, Rng, STREAMS } from "../../core/random.ts";

const assertNotEquals = <T>(a: T, b: T) =>
  assert(JSON.stringify(a) !== JSON.stringify(b), `${JSON.stringify(a)} equals the other`);

Deno.test("Rng: same seed gives the same sequence; different seeds differ", () => {
  const a = new Rng(42), b = new Rng(42), c = new Rng(43);
  const sa = Array.from({ length: 8 }, () => a.nextU32());
  assertEquals(sa, Array.from({ length: 8 }, () => b.nextU32()));
  assertNotEquals(sa, Array.from({ length: 8 }, () => c.nextU32()));
});

Deno.test("Rng: pinned xoshiro128** values (the sequence both former generators drew)", () => {
  const r = new Rng(42);
  assertEquals(Array.from({ length: 4 }, () => r.nextU32()), [
    2837322924,
    544945897,
    479756282,
    3500138142,
  ]);
  assertEquals(mixSeed(5, 9), 3675401507);
});

Deno.test("Rng: state() / setState() / fromState() round trip resumes the same sequence", () => {
  const a = new Rng(7);
  for (let i = 0; i < 5; i++) a.next();
  const saved = a.state();
  assertEquals(saved.length, 4);
  const next = Array.from({ length: 5 }, () => a.nextU32());
  // Through JSON, as a checkpoint stores it.
  const restored = JSON.parse(JSON.stringify(saved)) as number[];
  const c = Rng.fromState(restored);
  assertEquals(Array.from({ length: 5 }, () => c.nextU32()), next);
  const b = new Rng(99);
  b.setState(restored);
  assertEquals(Array.from({ length: 5 }, () => b.nextU32()), next);
});

Deno.test("Rng: setState refuses anything but four 32-bit words", async () => {
  const r = new Rng(1);
  for (const bad of [[3, 2], [0, 0, 0, 0], [1, 2, 3, -1], [1, 2, 3, 2 ** 32], [1.5, 0, 0, 1]]) {
    await assertRejects(() => r.setState(bad), /four unsigned 32-bit integers/);
  }
});

Deno.test("Rng: floats in [0,1) with a uniform mean; int and chance in range; shuffle permutes", () => {
  const r = new Rng(1);
  let sum = 0, heads = 0;
  for (let i = 0; i < 20000; i++) {
    const f = r.next();
    assert(f >= 0 && f < 1);
    sum += f;
    const k = r.int(6);
    assert(k >= 0 && k < 6 && Number.isInteger(k));
    if (r.chance(0.25)) heads++;
  }
  assert(Math.abs(sum / 20000 - 0.5) < 0.01);
  assert(Math.abs(heads / 20000 - 0.25) < 0.01);
  const p = r.shuffle(Uint32Array.from({ length: 50 }, (_, i) => i));
  assertEquals([...p].sort((a, b) => a - b), Array.from({ length: 50 }, (_, i) => i));
  assertEquals(r.shuffle(["a"]), ["a"]);
});

Deno.test("mixSeed / deriveSeed: order, purpose and index sensitive", () => {
  assertNotEquals(mixSeed(1, 2), mixSeed(2, 1));
  assertNotEquals(mixSeed(0, 0), mixSeed(0, 1));
  assertEquals(mixSeed(5, 9), mixSeed(5, 9));
  assertEquals(deriveSeed(3, "augment", 2), mixSeed(3, 2, STREAMS.augment));
  assertEquals(deriveSeed(3, "dropout"), deriveSeed(3, "dropout", 0));
  const all = Object.keys(STREAMS).flatMap((k) =>
    [0, 1].map((e) => deriveSeed(3, k as keyof typeof STREAMS, e))
  );
  assertEquals(new Set(all).size, all.length, "every purpose and epoch has its own seed");
});
