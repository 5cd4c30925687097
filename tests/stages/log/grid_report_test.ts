/**
 * The grid's report.html, built from the runs' summary.json files and opened in headless
 * Chromium: one row per run with its hyper-parameters and best figures, every run's curve on
 * the combined chart, links to the runs' reports, and sorting by a column.
 */
import { buildSummary, writeSummary } from "../../../stages/log/summary.ts";
import { writeGridReport } from "../../../stages/log/grid_report.ts";
import { computeMetrics } from "../../../stages/metrics.ts";
import type { EpochMetrics } from "../../../stages/evaluate.ts";
import { dumpDom } from "./_chromium.ts";
import { assert, assertEquals } from "../../assert.ts";
import { tempDir } from "../../_temp.ts";

function epoch(run: string, e: number, acc: number, lr: number): EpochMetrics {
  const test = computeMetrics([2, 1, 0.1, 0.3, 1.7, 0.2], [0, 1], 3);
  return {
    run,
    epoch: e,
    step: e * 10,
    train: { loss: 1 / e, accuracy: acc - 0.05, count: 10 },
    test: { ...test, accuracy: acc, loss: 2 - acc },
    lr,
    durationSec: 1,
    hparams: { lr, batch_size: 32 },
  };
}

Deno.test("grid report: one row per run, the combined chart drawn, sortable, links to run reports", async () => {
  const dir = await tempDir();
  const runs = {
    "lr=0.1": [0.5, 0.7, 0.6],
    "lr=0.01": [0.4, 0.8, 0.9],
    "lr=0.001 <b>": [0.2, 0.3],
  };
  const names = Object.keys(runs);
  for (const [name, accs] of Object.entries(runs)) {
    const lr = Number(name.split("=")[1].split(" ")[0]);
    const history = accs.map((a, i) => epoch(name, i + 1, a, lr));
    await Deno.mkdir(`${dir}/${name}`);
    await writeSummary(`${dir}/${name}/summary.json`, buildSummary(history, ["a", "b", "c"]));
  }
  const file = await writeGridReport(dir, "tiny grid", [...names, "never-started"]);
  const html = await Deno.readTextFile(file);
  assert(!html.includes("<b>"), "names escaped");
  const dom = await dumpDom(`${file}#sort=-TestAccuracy`);
  assert(!/data-error=/.test(dom), dom.match(/data-error="[^"]*"/)?.[0]);
  assert(/<body[^>]*data-drawn="accuracy"/.test(dom), "chart drawn");
  const rows = [
    ...dom.matchAll(/<tr class="run" data-run="([^"]*)"[^>]*data-testaccuracy="([^"]*)"/g),
  ];
  assertEquals(rows.map((r) => r[1]), ["lr=0.01", "lr=0.1", "lr=0.001 &lt;b&gt;"]);
  assertEquals(rows.map((r) => r[2]), ["0.9", "0.7", "0.3"]);
  assert(/data-sorted="-TestAccuracy"/.test(dom), "sorted by the hash");
  const chart = dom.split('id="accuracy"')[1].split("</svg>")[0];
  const paths = [...chart.matchAll(/<path d="([^"]*)"[^>]*data-series="([^"]*)"/g)];
  assertEquals(paths.length, 3);
  assertEquals(paths.map((p) => p[1].match(/[ML]/g)!.length), [3, 3, 2]);
  for (const n of names) assert(dom.includes(`href="${encodeURIComponent(n)}/report.html"`), n);
  await Deno.remove(dir, { recursive: true });
});
