import {
  computeMetrics,
  logSoftmax,
  type Metrics,
  MetricsAccumulator,
  RunningFigures,
} from "../../stages/metrics.ts";
import { assert, assertEquals, assertThrows } from "../assert.ts";

interface RefCase extends Omit<Metrics, "count"> {
  name: string;
  n: number;
  C: number;
  outputs: number[];
  labels: number[];
}

const REF: { cases: RefCase[] } = JSON.parse(
  await Deno.readTextFile(new URL("../../fixtures/metrics/metrics.json", import.meta.url)),
);

function close(a: number, b: number, tol: number, what: string) {
  assert(Math.abs(a - b) <= tol, `${what}: ${a} vs ${b}`);
}

function compare(got: Metrics, want: Omit<Metrics, "count">, what: string) {
  close(got.loss, want.loss, 1e-9 * Math.max(1, want.loss), `${what} loss`);
  assertEquals(got.accuracy, want.accuracy, `${what} accuracy`);
  assertEquals(got.top5, want.top5, `${what} top5`);
  assertEquals(got.confusion, want.confusion, `${what} confusion`);
  assertEquals(got.support, want.support, `${what} support`);
  for (const k of ["precision", "recall", "f1"] as const) {
    got[k].forEach((v, c) => close(v, want[k][c], 1e-12, `${what} ${k}[${c}]`));
    close(got.macro[k], want.macro[k], 1e-12, `${what} macro ${k}`);
  }
}

Deno.test("metrics: equal PyTorch/NumPy reference values (fixtures/metrics)", () => {
  assertEquals(REF.cases.length, 4);
  for (const c of REF.cases) {
    const got = computeMetrics(new Float32Array(c.outputs), c.labels, c.C);
    assertEquals(got.count, c.n);
    compare(got, c, c.name);
  }
});

Deno.test("metrics: merging batches equals one pass", () => {
  const c = REF.cases[0];
  const x = new Float32Array(c.outputs);
  const a = new MetricsAccumulator(c.C), b = new MetricsAccumulator(c.C);
  const cut = 7 * c.C;
  a.add(x.subarray(0, cut), c.labels.slice(0, 7));
  a.add(x.subarray(cut, 20 * c.C), c.labels.slice(7, 20));
  b.add(x.subarray(20 * c.C), c.labels.slice(20));
  compare(a.merge(b).result(), c, "merged");
  assertThrows(() => a.merge(new MetricsAccumulator(c.C + 1)), /different classes/);
});

Deno.test("metrics: a small case computed by hand", () => {
  // 3 classes, 4 samples. Predictions: 0, 1, 1, 2; labels: 0, 1, 2, 2.
  const out = [
    [Math.log(0.7), Math.log(0.2), Math.log(0.1)],
    [Math.log(0.1), Math.log(0.8), Math.log(0.1)],
    [Math.log(0.3), Math.log(0.5), Math.log(0.2)],
    [Math.log(0.25), Math.log(0.25), Math.log(0.5)],
  ].flat();
  const m = computeMetrics(out, [0, 1, 2, 2], 3, 2);
  close(
    m.loss,
    -(Math.log(0.7) + Math.log(0.8) + Math.log(0.2) + Math.log(0.5)) / 4,
    1e-12,
    "loss",
  );
  assertEquals(m.accuracy, 0.75);
  assertEquals(m.top5, 0.75); // top-2: sample 3's label 2 ranks last (0.2 < 0.3 < 0.5)
  assertEquals(m.confusion, [[1, 0, 0], [0, 1, 0], [0, 1, 1]]);
  assertEquals(m.precision, [1, 0.5, 1]);
  assertEquals(m.recall, [1, 1, 0.5]);
  close(m.f1[1], 2 / 3, 1e-15, "f1[1]");
  close(m.f1[2], 2 / 3, 1e-15, "f1[2]");
  close(m.macro.f1, (1 + 4 / 3) / 3, 1e-15, "macro f1");
});

Deno.test("metrics: ties go to the lower index; empty and bad input", () => {
  const m = computeMetrics([0, 0, 0, 1, 1, 0], [1, 0], 3, 1);
  assertEquals(m.confusion, [[1, 0, 0], [1, 0, 0], [0, 0, 0]]);
  assertEquals(m.accuracy, 0.5);
  const e = new MetricsAccumulator(4).result();
  assert(Number.isNaN(e.loss) && Number.isNaN(e.accuracy));
  assertEquals(e.precision, [0, 0, 0, 0]);
  assertThrows(() => computeMetrics([0, 1], [2], 2), /outside \[0, 2\)/);
  assertThrows(() => computeMetrics([0, 1, 2], [0], 2), /expected 1×2/);
  const lp = logSoftmax([1000, 0, -1000], 3);
  close(lp[0], 0, 1e-12, "stable log-softmax");
});

Deno.test("metrics: running training figures weight steps by their size", () => {
  const r = new RunningFigures();
  r.add(1.0, 30, 32);
  r.add(0.5, 10, 16);
  assertEquals(r.result(), { loss: (32 + 8) / 48, accuracy: 40 / 48, count: 48 });
  assert(Number.isNaN(new RunningFigures().result().loss));
});
