import { fileURLToPath } from "node:url";
import { logStage } from "../../../stages/log/stage.ts";
import { readCsv } from "../../../stages/log/csv.ts";
import { computeMetrics } from "../../../stages/metrics.ts";
import type { EpochMetrics } from "../../../stages/evaluate.ts";
import { assert, assertEquals } from "../../assert.ts";
import { tempDir } from "../../_temp.ts";

const JPEG = fileURLToPath(
  new URL("../../../fixtures/intel/seg_test/seg_test/forest/13.jpg", import.meta.url),
);

function epoch(run: string, e: number, right: number): EpochMetrics {
  const out = [0, 1, 2, 3].flatMap((i) => (i < right ? [2, 0] : [0, 2]));
  const test = computeMetrics(out, [0, 0, 1, 1], 2);
  return {
    run,
    epoch: e,
    step: e * 3,
    train: { loss: 1 / e, accuracy: 0.6, count: 12 },
    test: {
      ...test,
      durationSec: 0.1,
      samples: [{ index: 0, label: 0, pred: 0, prob: 0.9, path: JPEG }],
    },
    lr: 0.01,
    durationSec: 1.5,
    hparams: { lr: 0.01, batch_size: 4, weight_decay: 0 },
  };
}

Deno.test("log stage: csv rows, event file, summary.json and report.html per run", async () => {
  const dir = await tempDir();
  try {
    for (const run of ["a", "b"]) {
      const seen: number[] = [];
      await ReadableStream.from([epoch(run, 1, 1), epoch(run, 2, 3), epoch(run, 3, 2)])
        .pipeThrough(
          logStage({ runDir: `${dir}/${run}`, csvPath: `${dir}/metrics.csv`, classes: ["x", "y"] }),
        )
        .pipeTo(new WritableStream({ write: (m) => void seen.push(m.epoch) }));
      assertEquals(seen, [1, 2, 3]);
    }
    const rows = await readCsv(`${dir}/metrics.csv`);
    assertEquals(rows.map((r) => `${r.run}${r.epoch}`), ["a1", "a2", "a3", "b1", "b2", "b3"]);
    const files = [...Deno.readDirSync(`${dir}/a`)].map((e) => e.name).sort();
    assertEquals(files.length, 3);
    assert(files[0].startsWith("events.out.tfevents."));
    assertEquals(files.slice(1), ["report.html", "summary.json"]);
    const summary = JSON.parse(await Deno.readTextFile(`${dir}/a/summary.json`));
    assertEquals([summary.bestEpoch, summary.best.TestAccuracy], [3, 1]);
    const html = await Deno.readTextFile(`${dir}/a/report.html`);
    assert(html.includes("data:image/jpeg;base64,"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
