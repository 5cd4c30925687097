/**
 * The one window geometry of convolution and pooling (core/ops/window.ts): output sizes
 * against a brute-force count of the windows that fit, the automatic paddings, and the
 * disjoint / covering predicates against their definitions, over many small geometries.
 */
import { assert, assertEquals, assertThrows } from "../../assert.ts";
import { padsOf, windowGeometry, windowsCover, windowsDisjoint } from "../../../core/ops/window.ts";

/** Windows that start inside the input or the leading pad and end inside the padded input. */
function bruteOut(n: number, k: number, s: number, d: number, p0: number, p1: number) {
  let o = 0;
  while ((o * s) + d * (k - 1) < n + p0 + p1) o++;
  return o;
}

Deno.test("window geometry: output sizes, disjointness and cover match brute force", () => {
  let checked = 0;
  for (const n of [1, 2, 5, 7, 10]) {
    for (const k of [1, 2, 3]) {
      for (const s of [1, 2, 3, 4]) {
        for (const d of [1, 2]) {
          for (const p of [0, 1]) {
            if (p > Math.floor(k / 2) + 1 || d * (k - 1) + 1 > n + 2 * p) continue;
            const g = windowGeometry("t", n, n, {
              kernel: k,
              stride: s,
              dilation: d,
              padding: p,
            });
            assertEquals(g.OH, bruteOut(n, k, s, d, p, p));
            const hits = new Array(n).fill(0);
            for (let o = 0; o < g.OH; o++) {
              for (let t = 0; t < k; t++) {
                const i = o * s - p + t * d;
                if (i >= 0 && i < n) hits[i]++;
              }
            }
            // Disjoint means stride ≥ span (sound: no element in two windows; interleaved
            // dilated windows that share nothing still take the gather path).
            assertEquals(windowsDisjoint(g), s >= d * (k - 1) + 1);
            if (windowsDisjoint(g)) {
              assert(hits.every((h) => h <= 1), JSON.stringify(g));
              assertEquals(windowsCover(g), hits.every((h) => h === 1), JSON.stringify(g));
            }
            checked++;
          }
        }
      }
    }
  }
  assert(checked > 100, `only ${checked} geometries`);
});

Deno.test("window geometry: same modes give ceil(n / s) outputs; lower pads first", () => {
  for (const n of [5, 6, 7]) {
    for (const s of [1, 2, 3]) {
      const up = windowGeometry("t", n, n, { kernel: 2, stride: s, padding: "same" });
      assertEquals(up.OH, Math.ceil(n / s));
      const lo = windowGeometry("t", n, n, { kernel: 2, stride: s, padding: "same_lower" });
      assertEquals([lo.PT, lo.PB], [up.PB, up.PT]);
      assertEquals(padsOf("t", n, n, [2, 2], [s, s], [1, 1], "same_upper"), [
        up.PT,
        up.PL,
        up.PB,
        up.PR,
      ]);
    }
  }
});

Deno.test("window geometry: ceil mode keeps the last window starting inside", () => {
  // 7 with k2 s2: floor 3, ceil 4; 6 with k2 s2 p1 ceil: the 5th window would start in the
  // trailing pad, so 4.
  assertEquals(windowGeometry("t", 7, 7, { kernel: 2, stride: 2, ceilMode: true }).OH, 4);
  assertEquals(windowGeometry("t", 7, 7, { kernel: 2, stride: 2 }).OH, 3);
  assertEquals(
    windowGeometry("t", 6, 6, { kernel: 2, stride: 2, padding: 1, ceilMode: true }).OH,
    4,
  );
});

Deno.test("window geometry: errors name the op", () => {
  assertThrows(() => windowGeometry("maxPool2d", 4, 4, { kernel: 0 }), /maxPool2d: kernel must/);
  assertThrows(
    () => windowGeometry("conv2d", 2, 2, { kernel: 3 }),
    /conv2d: a 3×3 window .* does not fit input 2×2/,
  );
  assertThrows(
    () => windowGeometry("t", 4, 4, { kernel: 2, padding: "full" as "same" }),
    /unknown padding/,
  );
  assertThrows(() => windowGeometry("t", 4, 4, { kernel: 2, padding: -1 }), /non-negative/);
});
