import {
  appendCsvRow,
  appendMetrics,
  BASE_COLUMNS,
  csvField,
  metricsRow,
  parseCsv,
  readCsv,
} from "../../../stages/log/csv.ts";
import { computeMetrics } from "../../../stages/metrics.ts";
import type { EpochMetrics } from "../../../stages/evaluate.ts";
import { assertEquals } from "../../assert.ts";
import { tempDir } from "../../_temp.ts";

function epoch(run: string, e: number, hparams: EpochMetrics["hparams"]): EpochMetrics {
  return {
    run,
    epoch: e,
    step: e * 10,
    train: { loss: 0.5 / e, accuracy: 0.8, count: 10 },
    test: computeMetrics([1, 0, 0, 1], [0, 0], 2),
    lr: Number(hparams.lr),
    durationSec: 3.25,
    hparams,
  };
}

Deno.test("csv: exact columns, one row per run and epoch, grid keys as extra columns", async () => {
  const dir = await tempDir();
  try {
    const path = `${dir}/metrics.csv`;
    const hp = { lr: 0.0003, batch_size: 32, weight_decay: 0, optimizer: "adam" };
    await appendMetrics(path, epoch("lr=0.0003", 1, hp));
    await appendMetrics(path, epoch("lr=0.0003", 2, hp));
    await appendMetrics(path, epoch("lr=0.00003", 1, { ...hp, lr: 0.00003 }));
    const text = await Deno.readTextFile(path);
    const lines = text.trimEnd().split("\n");
    assertEquals(
      lines[0],
      "run,epoch,TrainLoss,TrainAccuracy,TestLoss,TestAccuracy,lr,batch_size,weight_decay," +
        "epoch_duration,optimizer",
    );
    assertEquals(lines.length, 4);
    const loss = String(computeMetrics([1, 0, 0, 1], [0, 0], 2).loss);
    assertEquals(lines[2], `lr=0.0003,2,0.25,0.8,${loss},0.5,0.0003,32,0,3.25,adam`);
    const rows = await readCsv(path);
    assertEquals(rows.map((r) => [r.run, r.epoch, r.lr]), [
      ["lr=0.0003", "1", "0.0003"],
      ["lr=0.0003", "2", "0.0003"],
      ["lr=0.00003", "1", "0.00003"],
    ]);
    assertEquals(Object.keys(metricsRow(epoch("r", 1, hp))).slice(0, 10), [...BASE_COLUMNS]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("csv: a new column widens the header; a repeated (run, epoch) replaces its row", async () => {
  const dir = await tempDir();
  try {
    const path = `${dir}/metrics.csv`;
    await appendCsvRow(path, { run: "a", epoch: 1, TestAccuracy: 0.5 });
    await appendCsvRow(path, { run: "b", epoch: 1, TestAccuracy: 0.6, momentum: 0.9 });
    await appendCsvRow(path, { run: "a", epoch: 1, TestAccuracy: 0.55 }); // resumed run
    const rows = await readCsv(path);
    assertEquals(rows.length, 2);
    assertEquals(rows.map((r) => [r.run, r.TestAccuracy, r.momentum]), [
      ["a", "0.55", ""],
      ["b", "0.6", "0.9"],
    ]);
    assertEquals((await Deno.readTextFile(path)).split("\n")[0].split(",").at(-1), "momentum");
    assertEquals([...Deno.readDirSync(dir)].length, 1);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("csv: quoting round-trips commas, quotes, line breaks and edge spaces", () => {
  const values = ["a,b", 'say "hi"', "two\nlines", " pad", "plain", "", "x\r\ny"];
  const line = values.map(csvField).join(",");
  assertEquals(csvField('say "hi"'), '"say ""hi"""');
  assertEquals(parseCsv(line + "\n" + line), [values, values]);
  assertEquals(csvField(null), "");
  assertEquals(csvField(1e-7), "1e-7");
});
