import { bestEpoch, buildSummary, writeSummary } from "../../../stages/log/summary.ts";
import { computeMetrics } from "../../../stages/metrics.ts";
import type { EpochMetrics } from "../../../stages/evaluate.ts";
import { assertEquals, assertThrows } from "../../assert.ts";
import { tempDir } from "../../_temp.ts";

// Outputs for 4 samples of 2 classes; `right` of them classified correctly.
function epoch(e: number, right: number, scale = 1): EpochMetrics {
  const out = [0, 1, 2, 3].flatMap((i) => (i < right ? [scale, 0] : [0, scale]));
  return {
    run: "r",
    epoch: e,
    step: e * 5,
    train: { loss: 1 / e, accuracy: 0.5, count: 8 },
    test: computeMetrics(out, [0, 0, 0, 0], 2),
    lr: 0.01,
    durationSec: 2,
    hparams: { lr: 0.01, batch_size: 4 },
  };
}

Deno.test("summary: best epoch by test accuracy, ties to lower loss, with its confusion matrix", async () => {
  const history = [epoch(1, 1), epoch(2, 3, 5), epoch(3, 3), epoch(4, 2)];
  assertEquals(bestEpoch(history).epoch, 3); // epochs 2 and 3 tie at 0.75; 3 has lower loss
  assertEquals(bestEpoch(history, "TestLoss").epoch, 3);
  assertEquals(bestEpoch(history, "TrainLoss").epoch, 4);
  assertThrows(() => bestEpoch(history, "nope"), /unknown metric/);
  const s = buildSummary(history, ["cat", "dog"]);
  assertEquals(s.bestEpoch, 3);
  assertEquals(s.confusion, [[3, 1], [0, 0]]);
  assertEquals(s.best.TestAccuracy, 0.75);
  assertEquals(s.best.recall, { cat: 0.75, dog: 0 });
  assertEquals(s.epochs.map((e) => e.epoch), [1, 2, 3, 4]);
  const dir = await tempDir();
  try {
    const nan = { ...epoch(5, 0), train: { loss: NaN, accuracy: 0, count: 0 } };
    await writeSummary(`${dir}/summary.json`, buildSummary([...history, nan], ["cat", "dog"]));
    const back = JSON.parse(await Deno.readTextFile(`${dir}/summary.json`));
    assertEquals(back.bestEpoch, 3);
    assertEquals(back.confusion, [[3, 1], [0, 0]]);
    assertEquals(back.epochs[4].TrainLoss, null);
    assertEquals(back.hparams, { lr: 0.01, batch_size: 4 });
    assertEquals([...Deno.readDirSync(dir)].map((e) => e.name), ["summary.json"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
