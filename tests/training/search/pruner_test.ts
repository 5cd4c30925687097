/**
 * Pruners against hand-computed cases: the median pruner (warm-up, minimum trials, whose
 * values count, both directions, NaN) and ASHA (rungs, promotion as soon as a trial is in
 * the top 1/η of its rung, skipped epochs, both directions, NaN), and their settings.
 */
import { assertEquals, assertRejects } from "../../assert.ts";
import {
  ashaPruner,
  ashaRungs,
  medianPruner,
  noPruner,
  type Pruner,
  prunerFromSpec,
  type ReportedTrial,
} from "../../../training/search/pruner.ts";
import type { TrialState } from "../../../training/search/types.ts";

/** A trial with `values` at epochs 1, 2, … (undefined: no report at that epoch). */
function trial(number: number, state: TrialState, values: (number | undefined)[]): ReportedTrial {
  const reports = values.flatMap((value, i) =>
    value === undefined ? [] : [{ epoch: i + 1, value }]
  );
  return { number, state, reports };
}

Deno.test("median pruner: worse than the median of the completed trials at the epoch", () => {
  const p = medianPruner({ warmupEpochs: 1, minTrials: 3 });
  const h = [
    trial(0, "complete", [0.1, 0.5, 0.6]),
    trial(1, "complete", [0.2, 0.6, undefined]),
    trial(2, "complete", [0.3, 0.7, 0.8]),
    trial(4, "running", [0.9, 0.9]),
    trial(5, "pruned", [0.9, 0.9]),
  ];
  // Epoch 2: the completed trials have 0.5, 0.6, 0.7 (median 0.6).
  assertEquals(p.decide(h, 3, 2, 0.55), "prune");
  assertEquals(p.decide(h, 3, 2, 0.6), "continue", "equal to the median is not worse");
  assertEquals(p.decide(h, 3, 2, 0.65), "continue");
  assertEquals(p.decide(h, 3, 1, 0.0), "continue", "warm-up epoch");
  assertEquals(p.decide(h, 3, 3, 0.0), "continue", "only 2 completed trials reached epoch 3");
  assertEquals(p.decide(h, 3, 2, NaN), "prune", "not finite after the warm-up");
  assertEquals(p.decide(h, 3, 1, NaN), "continue", "not finite within the warm-up");
  assertEquals(p.decide(h, 0, 2, 0.55), "continue", "its own value is not among the others");

  // Every other trial: 0.5, 0.6, 0.7, 0.9, 0.9 → median 0.7.
  const others = medianPruner({ warmupEpochs: 1, minTrials: 3, among: "others" });
  assertEquals(others.decide(h, 3, 2, 0.65), "prune");
  assertEquals(others.decide(h, 3, 2, 0.7), "continue");
  // An even count: 0.5, 0.6, 0.7, 0.9 without trial 5 → (0.6 + 0.7) / 2 = 0.65.
  assertEquals(others.decide(h.slice(0, 4), 3, 2, 0.64), "prune");
  assertEquals(others.decide(h.slice(0, 4), 3, 2, 0.66), "continue");

  // A loss: lower is better; the median is still 0.6.
  const loss = medianPruner({ warmupEpochs: 1, minTrials: 3, mode: "min" });
  assertEquals(loss.decide(h, 3, 2, 0.65), "prune");
  assertEquals(loss.decide(h, 3, 2, 0.55), "continue");
  // The others' non-finite values do not count (2 finite values < minTrials 3).
  const nan = [trial(0, "complete", [NaN]), trial(1, "complete", [1]), trial(2, "complete", [2])];
  assertEquals(medianPruner({ minTrials: 3 }).decide(nan, 9, 1, 0), "continue");
  assertEquals(medianPruner({ minTrials: 2 }).decide(nan, 9, 1, 0), "prune");
  assertEquals(medianPruner().spec, {
    kind: "median",
    warmupEpochs: 0,
    minTrials: 5,
    among: "complete",
    mode: "max",
  });
});

Deno.test("ASHA: rungs at gracePeriod·η^k below maxEpochs", () => {
  assertEquals(ashaRungs(1, 3, 27), [1, 3, 9]);
  assertEquals(ashaRungs(1, 3, 28), [1, 3, 9, 27]);
  assertEquals(ashaRungs(2, 2, 16), [2, 4, 8]);
  assertEquals(ashaRungs(4, 2, 4), []);
  assertEquals(ashaPruner({ gracePeriod: 1, reductionFactor: 3, maxEpochs: 27 }).spec, {
    kind: "asha",
    gracePeriod: 1,
    reductionFactor: 3,
    maxEpochs: 27,
    mode: "max",
  });
});

/** Feeds reports one by one as a store would (record, then decide) and collects verdicts. */
function feed(p: Pruner, steps: [number, number, number][]): string[] {
  const history = new Map<number, ReportedTrial>();
  return steps.map(([n, epoch, value]) => {
    const t = history.get(n) ?? { number: n, state: "running" as TrialState, reports: [] };
    t.reports = [...t.reports.filter((r) => r.epoch !== epoch), { epoch, value }];
    history.set(n, t);
    return `${n}@${epoch}:${p.decide([...history.values()], n, epoch, value)}`;
  });
}

Deno.test("ASHA: a trial at a rung goes on iff it is in the top 1/η so far (max)", () => {
  const p = ashaPruner({ gracePeriod: 1, reductionFactor: 3, maxEpochs: 27 });
  const verdicts = feed(p, [
    [0, 1, 0.5], // n=1, keep max(1, ⌊1/3⌋)=1: the only one → continue
    [1, 1, 0.4], // n=2, keep 1: best is 0.5 → prune
    [2, 1, 0.6], // n=3, keep 1: it is the best → continue
    [3, 1, 0.55], // n=4, keep 1 → prune
    [4, 1, 0.58], // n=5, keep 1 → prune
    [5, 1, 0.57], // n=6, keep 2: 0.6, 0.58 → prune
    [6, 1, 0.59], // n=7, keep 2: 0.6, 0.59 → continue
    [0, 2, 0.0], // epoch 2 is no rung → continue whatever the value
    [0, 3, 0.7], // rung 3: alone → continue
    [2, 2, 0.6],
    [2, 3, 0.65], // rung 3: 0.7, 0.65, keep 1 → prune
    [7, 4, 0.8], // first report at epoch 4 crosses rungs 1 and 3: judged at 3 among 0.7, 0.65
    [7, 4, 0.8], // the same report again: the same verdict
    [8, 5, 0.66], // crosses rung 3: 0.8, 0.7, 0.66, 0.65 → keep 1 → prune
    [9, 1, NaN], // not finite at a rung → prune
    [6, 2, NaN], // not finite between rungs → continue
    [0, 27, 0.1], // maxEpochs: no rung there
  ]);
  assertEquals(verdicts, [
    "0@1:continue",
    "1@1:prune",
    "2@1:continue",
    "3@1:prune",
    "4@1:prune",
    "5@1:prune",
    "6@1:continue",
    "0@2:continue",
    "0@3:continue",
    "2@2:continue",
    "2@3:prune",
    "7@4:continue",
    "7@4:continue",
    "8@5:prune",
    "9@1:prune",
    "6@2:continue",
    "0@27:continue",
  ]);
});

Deno.test("ASHA: lower is better with mode min; η = 2; others' NaN rank last", () => {
  const p = ashaPruner({ gracePeriod: 2, reductionFactor: 2, maxEpochs: 16, mode: "min" });
  assertEquals(
    feed(p, [
      [0, 2, 1.0], // n=1 → continue
      [1, 2, 1.2], // n=2, keep 1: best 1.0 → prune
      [2, 2, 0.9], // n=3, keep 1 → continue
      [3, 2, 1.1], // n=4, keep 2: 0.9, 1.0 → prune
      [4, 2, 1.0], // n=5, keep 2: 0.9, 1.0 → continue (equal to the cut)
      [5, 1, 9.0], // epoch 1 is below the first rung → continue
      [5, 2, NaN], // not finite → prune
      [6, 2, 1.05], // n=7 (5's NaN ranks last), keep 3: 0.9, 1.0, 1.0 → prune
    ]),
    [
      "0@2:continue",
      "1@2:prune",
      "2@2:continue",
      "3@2:prune",
      "4@2:continue",
      "5@1:continue",
      "5@2:prune",
      "6@2:prune",
    ],
  );
});

Deno.test("pruners: settings are checked; specs round-trip", async () => {
  await assertRejects(
    () => ashaPruner({ gracePeriod: 1, reductionFactor: 1, maxEpochs: 9 }),
    /^--pruner: asha reductionFactor must be a number > 1/,
  );
  await assertRejects(
    () => ashaPruner({ gracePeriod: 0, reductionFactor: 3, maxEpochs: 9 }),
    /^--pruner: asha gracePeriod must be an integer >= 1/,
  );
  await assertRejects(
    () => ashaPruner({ gracePeriod: 4, reductionFactor: 3, maxEpochs: 3 }),
    /^--pruner: asha maxEpochs must be an integer >= 4/,
  );
  await assertRejects(() => medianPruner({ minTrials: 0 }), /minTrials must be an integer >= 1/);
  await assertRejects(() => medianPruner({ warmupEpochs: -1 }), /warmupEpochs must be/);
  await assertRejects(() => prunerFromSpec({ kind: "hyperband" }), /unknown pruner/);
  for (
    const p of [
      noPruner(),
      medianPruner({ warmupEpochs: 2, minTrials: 4, among: "others", mode: "min" }),
      ashaPruner({ gracePeriod: 1, reductionFactor: 3, maxEpochs: 20, mode: "min" }),
    ]
  ) {
    assertEquals(prunerFromSpec(JSON.parse(JSON.stringify(p.spec))).spec, p.spec);
  }
  assertEquals(noPruner().decide([], 0, 1, NaN), "continue");
});
