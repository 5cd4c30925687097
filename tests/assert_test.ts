/** The assertion module tells apart what a loose comparison would merge. */
import {
  assert,
  assertClose,
  assertEquals,
  assertNotEquals,
  assertRejects,
  assertThrows,
} from "./assert.ts";

function fails(fn: () => void): boolean {
  try {
    fn();
  } catch {
    return true;
  }
  return false;
}

Deno.test("assertEquals: NaN equals NaN, never null", () => {
  assertEquals(NaN, NaN);
  assertEquals([1, NaN], [1, NaN]);
  assert(fails(() => assertEquals([NaN], [null])));
  assert(fails(() => assertEquals({ a: NaN }, { a: null })));
});

Deno.test("assertEquals: typed arrays compare by type and values", () => {
  assertEquals(new Float32Array([1, 2]), new Float32Array([1, 2]));
  assert(
    fails(() => assertEquals(new Float32Array([1, 2]), new Int32Array([1, 2]))),
  );
  assert(fails(() => assertEquals(new Float32Array([1, 2]), [1, 2])));
  assert(
    fails(() => assertEquals(new Float32Array([1, 2]), new Float32Array([1, 3]))),
  );
  assertNotEquals(new Uint8Array([1]), new Int8Array([1]));
});

Deno.test("assertEquals: undefined keys and extra keys are differences", () => {
  assert(fails(() => assertEquals({ a: 1, b: undefined }, { a: 1 })));
  assert(fails(() => assertEquals({ a: 1, b: 2 }, { a: 1 })));
  assert(fails(() => assertEquals(1, "1")));
});

Deno.test("assertClose: inside the tolerance passes, NaN never does", () => {
  assertClose(1.0005, 1, 1e-3);
  assert(fails(() => assertClose(1.01, 1, 1e-3)));
  assert(fails(() => assertClose(NaN, NaN, 1)));
});

Deno.test("assertThrows is synchronous; assertRejects awaits", async () => {
  const e = assertThrows(
    () => {
      throw new RangeError("out of range: 7");
    },
    RangeError,
    "range: 7",
  );
  assertEquals(e.message, "out of range: 7");
  assertThrows(() => JSON.parse("{"), /JSON/);
  assert(fails(() => assertThrows(() => {})));
  assert(fails(() => assertThrows(() => Promise.reject(new Error("late")))));
  assert(fails(() =>
    assertThrows(() => {
      throw new Error("x");
    }, TypeError)
  ));
  await assertRejects(() => Promise.reject(new Error("late")), /late/);
  await assertRejects(
    Promise.reject(new TypeError("given as a promise")),
    TypeError,
  );
  assertThrows(() => {
    throw new Error("checked by a predicate");
  }, (e: Error) => e.message.startsWith("checked"));
  assert(fails(() =>
    assertThrows(() => {
      throw new Error("no");
    }, (e: Error) => e.message === "yes")
  ));
  await assertRejects(() => {
    throw new Error("sync is fine too");
  }, /sync/);
  let rejected = false;
  await assertRejects(async () => {}).catch(() => rejected = true);
  assert(rejected, "a resolved promise must fail assertRejects");
});
