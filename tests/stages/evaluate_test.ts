import { evaluate, evaluateStream } from "../../stages/evaluate.ts";
import { computeMetrics } from "../../stages/metrics.ts";
import type { Batch } from "../../stages/types.ts";
import { assert, assertEquals, assertRejects } from "../assert.ts";

const C = 4;
/** Fake model: output row i of the data set is a fixed function of the image's first pixel. */
function logits(v: number): number[] {
  return Array.from({ length: C }, (_, c) => Math.cos(v * (c + 1)) * 3);
}

function batches(n: number, size: number): Batch[] {
  const out: Batch[] = [];
  for (let s = 0; s < n; s += size) {
    const k = Math.min(size, n - s);
    const x = new Float32Array(k * 2).map((_, i) => (i % 2 ? 0 : s + i / 2));
    out.push({
      x,
      shape: [k, 2, 1, 1],
      labels: Int32Array.from({ length: k }, (_, i) => (s + i) % C),
      paths: Array.from({ length: k }, (_, i) => `img${s + i}.jpg`),
    });
  }
  return out;
}

const forward = (b: Batch) => {
  const out = new Float32Array(b.labels.length * C);
  for (let i = 0; i < b.labels.length; i++) out.set(logits(b.x[i * 2]), i * C);
  return Promise.resolve(out);
};

Deno.test("evaluate: one record equal to the metrics of all outputs at once", async () => {
  let calls = 0;
  const counted = (b: Batch) => (calls++, forward(b));
  const ev = await evaluateStream(ReadableStream.from(batches(23, 5)), {
    forward: counted,
    numClasses: C,
    keep: 7,
  });
  assertEquals(calls, 5);
  const all = new Float32Array(23 * C);
  for (let i = 0; i < 23; i++) all.set(logits(i), i * C);
  const want = computeMetrics(all, Int32Array.from({ length: 23 }, (_, i) => i % C), C);
  const { samples, durationSec, ...metrics } = ev;
  assertEquals(metrics, want);
  assert(durationSec >= 0);
  assertEquals(
    samples.map((s) => [s.index, s.path, s.label]),
    [0, 1, 2, 3, 4, 5, 6].map((i) => [
      i,
      `img${i}.jpg`,
      i % C,
    ]),
  );
  for (const s of samples) {
    const row = logits(s.index);
    assertEquals(s.pred, row.indexOf(Math.max(...row)));
    const sum = row.reduce((a, v) => a + Math.exp(v), 0);
    assert(Math.abs(s.prob - Math.exp(row[s.pred]) / sum) < 1e-6);
  }
});

Deno.test("evaluate: composes as a TransformStream; forward errors propagate", async () => {
  const out = [];
  for await (
    const e of ReadableStream.from(batches(4, 4)).pipeThrough(
      evaluate({ forward, numClasses: C }),
    )
  ) out.push(e);
  assertEquals(out.length, 1);
  assertEquals(out[0].count, 4);
  await assertRejects(
    evaluateStream(ReadableStream.from(batches(4, 2)), {
      forward: () => Promise.reject(new Error("gpu lost")),
      numClasses: C,
    }),
    /gpu lost/,
  );
});
