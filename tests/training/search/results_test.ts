/** The study's closing table and closing lines name the same best trial. */
import { assert, assertEquals } from "../../assert.ts";
import { bestTrial, studyEnding, studyTable } from "../../../training/search/results.ts";
import { parseSpace } from "../../../training/search/space.ts";
import type { TrialRecord } from "../../../training/search/types.ts";

const trial = (
  number: number,
  state: TrialRecord["state"],
  values: number[],
): TrialRecord => ({
  number,
  state,
  params: { lr: 0.001 * (number + 1) },
  value: state === "complete" ? Math.max(...values) : undefined,
  reports: values.map((value, i) => ({ epoch: i + 1, value })),
  attempts: 1,
  worker: "w",
});

Deno.test("results: the best trial is the table's first row (ties to the earlier epoch)", () => {
  const space = parseSpace("lr=loguniform(1e-4,1e-1)");
  const trials = [
    trial(0, "failed", [1]), // never counts
    trial(1, "complete", [0.5, 0.8, 0.9, 1]), // 100% at epoch 4
    trial(2, "pruned", [0.7, 1]), // 100% at epoch 2: earlier, so better
    trial(3, "complete", [0.5, 0.6]),
    trial(4, "running", [1]), // not finished
  ];
  assertEquals(bestTrial(trials)?.number, 2);
  const table = studyTable(trials, space, 5).split("\n");
  const first = table.find((l) => /^1\s/.test(l));
  assert(first && /^1\s+2\s+pruned/.test(first), table.join("\n"));
  assert(studyEnding("/nonexistent", trials, space, "r.html").includes("best trial: trial_0002"));
  // An earlier best epoch known from a local summary decides too.
  assertEquals(bestTrial(trials, new Map([[1, 1]]))?.number, 1);
  assertEquals(bestTrial([trial(0, "failed", [1])]), undefined);
});
