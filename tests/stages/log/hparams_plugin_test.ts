import { type LogStage, logStage, STEP_LOSS_TAG } from "../../../stages/log/stage.ts";
import {
  EPOCH_METRICS,
  EXPERIMENT_TAG,
  SESSION_END_TAG,
  SESSION_START_TAG,
} from "../../../stages/log/hparams_plugin.ts";
import type { EpochMetrics, HValue } from "../../../stages/evaluate.ts";
import { epochRecord, eventFileNames, readBack, series } from "./_reader.ts";
import { assert, assertEquals, assertRejects } from "../../assert.ts";
import { tempDir } from "../../_temp.ts";

/** Feeds `epochs` through a log stage, with a step loss every 5 steps before each epoch. */
async function feed(stage: LogStage, epochs: EpochMetrics[], end: boolean): Promise<void> {
  const w = stage.writable.getWriter();
  const drained = stage.readable.pipeTo(new WritableStream());
  for (const m of epochs) {
    for (const s of [m.step - 5, m.step]) await stage.stepLoss(s, 1 / s, m.wallTime! - 1);
    await w.write(m);
  }
  if (end) await stage.end("success", 1700009999);
  await w.close();
  await drained;
}

Deno.test("hparams plugin: session start, experiment, end and step losses read back", async () => {
  const dir = await tempDir();
  try {
    const grid: [string, Record<string, HValue>, boolean][] = [
      ["lr=0.01", { lr: 0.01, optimizer: "sgd", augment: true, batch_size: 4 }, true],
      ["lr=0.1", { lr: 0.1, optimizer: "adam", augment: false, batch_size: 4 }, false],
    ];
    for (const [run, hp, end] of grid) {
      const stage = logStage({
        runDir: `${dir}/${run}`,
        csvPath: `${dir}/metrics.csv`,
        classes: ["x", "y"],
        hparams: end ? undefined : hp,
      });
      await feed(stage, [1, 2].map((e) => epochRecord(run, e, hp, e + 1)), end);
      await assertRejects(stage.end(), /closed/);
    }
    for (const [run, hp, end] of grid) {
      const files = eventFileNames(`${dir}/${run}`);
      assertEquals(files.length, 1);
      const { events } = await readBack(`${dir}/${run}/${files[0]}`);
      const [start] = series(events, SESSION_START_TAG);
      const [experiment] = series(events, EXPERIMENT_TAG);
      assertEquals(series(events, SESSION_START_TAG).length, 1);
      assertEquals(series(events, EXPERIMENT_TAG).length, 1);
      assertEquals(start[1].plugin, "hparams");
      assertEquals(start[1].tensor?.dtype, 1); // DT_FLOAT, empty: the hparams null tensor
      const info = start[1].hparams_plugin!;
      assertEquals(info.version, 0);
      assertEquals(info.session_start_info!.hparams, hp);
      const exp = experiment[1].hparams_plugin!.experiment!;
      assertEquals(exp.hparam_infos, [
        { name: "lr", type: 3 },
        { name: "optimizer", type: 1 },
        { name: "augment", type: 2 },
        { name: "batch_size", type: 3 },
      ]);
      assertEquals(
        exp.metric_infos.map((m) => [m.name.group, m.name.tag, m.dataset_type]),
        EPOCH_METRICS.map((m) => ["", m.tag, m.dataset === "training" ? 1 : 2]),
      );
      if (end) {
        // Written with the first epoch, dated at its start (end of epoch 1 less its 2 s).
        assertEquals(start[0], 0);
        assertEquals(info.session_start_info!.start_time_secs, 1700000100 - 2);
      } else {
        // Given as an option: written as the file opens, before the first step loss.
        const first = events.findIndex((e) => e.values?.[0].tag === STEP_LOSS_TAG);
        assert(events.findIndex((e) => e.values?.[0].tag === SESSION_START_TAG) < first);
      }
      const ends = series(events, SESSION_END_TAG);
      assertEquals(
        ends.map(([step, v]) => [step, v.hparams_plugin!.session_end_info]),
        end ? [[2, { status: 1, end_time_secs: 1700009999 }]] : [],
      );
      const losses = series(events, STEP_LOSS_TAG);
      assertEquals(losses.map(([s]) => s), [5, 10, 15, 20]);
      assertEquals(
        losses.map(([, v]) => v.simple_value),
        [5, 10, 15, 20].map((s) => Math.fround(1 / s)),
      );
      assertEquals(series(events, "Loss/test").map(([s]) => s), [1, 2]);
      assertEquals(series(events, "hparams").length, 1);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
