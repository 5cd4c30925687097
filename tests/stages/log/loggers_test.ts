/**
 * The log stage's loggers: a logger written in a few lines receives the run's start, every
 * epoch (with the history and summary so far), the step losses and the end, in order; the
 * built-in set made through the registry writes the same bytes as the default; a smaller
 * set writes only its files; the "jsonl" logger's lines.
 */
import { fileURLToPath } from "node:url";
import { logStage } from "../../../stages/log/stage.ts";
import { csvLogger, DEFAULT_LOGGERS, type Logger } from "../../../stages/log/loggers.ts";
import "../../../plugins/loggers/index.ts";
import { create } from "../../../plugins/registry.ts";
import { computeMetrics } from "../../../stages/metrics.ts";
import type { EpochMetrics } from "../../../stages/evaluate.ts";
import { assert, assertEquals } from "../../assert.ts";
import { tempDir } from "../../_temp.ts";

const JPEG = fileURLToPath(
  new URL("../../../fixtures/intel/seg_test/seg_test/forest/13.jpg", import.meta.url),
);
const HP = { lr: 0.01, batch_size: 4, weight_decay: 0, pooling: "lp:p=2" };

function epoch(e: number, right: number): EpochMetrics {
  const out = [0, 1, 2, 3].flatMap((i) => (i < right ? [2, 0] : [0, 2]));
  return {
    run: "r",
    epoch: e,
    step: e * 3,
    train: { loss: 1 / e, accuracy: 0.6, count: 12 },
    test: {
      ...computeMetrics(out, [0, 0, 1, 1], 2),
      durationSec: 0.1,
      samples: [{ index: 0, label: 0, pred: 0, prob: 0.9, path: JPEG }],
    },
    lr: 0.01,
    durationSec: 1.5,
    wallTime: 1_700_000_000 + 10 * e,
    hparams: HP,
  };
}

/** Logs two epochs (with step losses and the end) into `dir` with `loggers`. */
async function logRun(dir: string, loggers?: Logger[], history: EpochMetrics[] = []) {
  const log = logStage({
    runDir: `${dir}/r`,
    csvPath: `${dir}/metrics.csv`,
    classes: ["x", "y"],
    hparams: HP,
    history,
    loggers,
  });
  const w = log.writable.getWriter();
  const drained = log.readable.pipeTo(new WritableStream());
  const first = history.length + 1;
  await log.stepLoss(first * 3 - 1, 0.9, 1_700_000_001);
  await w.write(epoch(first, 1));
  await w.write(epoch(first + 1, 2));
  await log.end("success", 1_700_000_100);
  await w.close();
  await drained;
}

async function files(dir: string): Promise<Map<string, Uint8Array>> {
  const out = new Map<string, Uint8Array>();
  const walk = async (d: string, rel: string) => {
    for await (const e of Deno.readDir(d)) {
      if (e.isDirectory) await walk(`${d}/${e.name}`, `${rel}${e.name}/`);
      else out.set(`${rel}${e.name}`, await Deno.readFile(`${d}/${e.name}`));
    }
  };
  await walk(dir, "");
  return out;
}

Deno.test("loggers: a logger in a few lines gets the start, each epoch, the steps and the end", async () => {
  const dir = await tempDir();
  const calls: string[] = [];
  const mine: Logger = {
    start: (r) => void calls.push(`start ${r.run} ${r.hparams?.pooling} ${r.history.length}`),
    epoch: ({ metrics, history, summary }) =>
      void calls.push(`epoch ${metrics.epoch} ${history.length} best ${summary.bestEpoch}`),
    step: (step, loss) => void calls.push(`step ${step} ${loss}`),
    end: (status) => void calls.push(`end ${status}`),
    close: () => void calls.push("close"),
  };
  await logRun(dir, [mine]);
  assertEquals(calls, [
    "start r lp:p=2 0",
    "step 2 0.9",
    "epoch 1 1 best 1",
    "epoch 2 2 best 2",
    "end success",
    "close",
  ]);
  assertEquals([...(await files(dir)).keys()], []); // no default logger ran
  // A resumed run: the start carries the earlier epochs, the history continues.
  calls.length = 0;
  await logRun(dir, [mine], [epoch(1, 1), epoch(2, 2)]);
  assertEquals(calls[0], "start r lp:p=2 2");
  assertEquals(calls[2], "epoch 3 3 best 2");
});

Deno.test("loggers: the built-in set from the registry writes the default's bytes; a subset only its files", async () => {
  const now = Date.now;
  let t = 1_700_000_000_000;
  Date.now = () => (t += 1000);
  try {
    const [a, b, c] = [
      await tempDir(),
      await tempDir(),
      await tempDir(),
    ];
    t = 1_700_000_000_000;
    await logRun(a);
    t = 1_700_000_000_000;
    await logRun(b, DEFAULT_LOGGERS.map((n) => create<Logger>("logger", n)));
    const [fa, fb] = [await files(a), await files(b)];
    assertEquals([...fa.keys()].sort(), [...fb.keys()].sort());
    assertEquals(fa.size, 4); // metrics.csv, and the event file, summary.json, report.html
    for (const [k, v] of fa) assertEquals(fb.get(k), v, k);
    await logRun(c, [csvLogger()]);
    assertEquals([...(await files(c)).keys()], ["metrics.csv"]);
    assertEquals((await files(c)).get("metrics.csv"), fa.get("metrics.csv"));
  } finally {
    Date.now = now;
  }
});

Deno.test("loggers: jsonl writes the start, each epoch's metrics.csv row and the end", async () => {
  const dir = await tempDir();
  await logRun(dir, [create<Logger>("logger", "jsonl", {})]);
  const lines = (await Deno.readTextFile(`${dir}/r/log.jsonl`)).trim().split("\n").map((l) =>
    JSON.parse(l)
  );
  assertEquals(lines.map((l) => l.event), ["start", "epoch", "epoch", "end"]);
  assertEquals(lines[0].hparams, HP);
  assertEquals(lines[2].TestAccuracy, 1);
  assertEquals(lines[2].pooling, "lp:p=2");
  assert(lines[3].status === "success");
});
