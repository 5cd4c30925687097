/**
 * Plugins from the command line, as a plugin author uses them: the guide's plugin files
 * (plugins/command_line.md: one file per kind, copied verbatim into a
 * temporary folder outside the project, their `../webgpu-train/` imports pointed at this
 * checkout) are given with `--plugin`, named in flags and in a grid, and the runs use them:
 * asserted on the outputs (metrics.csv columns, checkpoint shapes, frozen weights, the
 * stages' records, the logger's lines, the exported model's operators).
 */
import { relative } from "node:path";
import { pathToFileURL } from "node:url";
import { assert, assertEquals } from "../assert.ts";
import { cli, ROOT, run, TINY } from "./_cli.ts";
import { initGpu } from "../../core/gpu.ts";
import { Flatten, LogSoftmax, ReLU } from "../../core/nn/activation.ts";
import { Conv2d } from "../../core/nn/conv.ts";
import { Linear } from "../../core/nn/linear.ts";
import { Sequential } from "../../core/nn/sequential.ts";
import { Rng } from "../../core/random.ts";
import { exportOnnx } from "../../onnx/export.ts";
import { readCsv } from "../../stages/log/csv.ts";
import { loadCheckpoint } from "../../training/checkpoint.ts";
import { readOnnxFile } from "../../onnx/read.ts";
import { tempDir } from "../_temp.ts";

/** The guide's `my_plugins/*.ts` blocks, written into a new folder; returns name → path. */
export async function guidePlugins(): Promise<Record<string, string>> {
  const readme = await Deno.readTextFile(`${ROOT}plugins/command_line.md`);
  const dir = await tempDir("my_plugins_");
  const root = pathToFileURL(ROOT).href;
  const out: Record<string, string> = {};
  for (const m of readme.matchAll(/```ts\n(\/\/ my_plugins\/([\w.]+):[^\n]*\n[\s\S]*?)```/g)) {
    out[m[2]] = `${dir}/${m[2]}`;
    await Deno.writeTextFile(out[m[2]], m[1].replaceAll('"../webgpu-train/', `"${root}`));
  }
  return out;
}

const plugin = (files: Record<string, string>, ...names: string[]) =>
  names.flatMap((n) => {
    assert(files[n], `the guide has no my_plugins/${n}`);
    return ["--plugin", files[n]];
  });

const lines = async (path: string) =>
  (await Deno.readTextFile(path)).trim().split("\n").map((l) => JSON.parse(l));

Deno.test("plugin files from the guide: pooling, regularizer, callback, logger in flags and a grid; --resume loads them again", async () => {
  const files = await guidePlugins();
  assertEquals(Object.keys(files).sort(), [
    "events_logger.ts",
    "maxavg_pool.ts",
    "scale_grad.ts",
    "signum.ts",
    "stages.ts",
    "target_stop.ts",
  ]);
  const out = await tempDir("plugin_cli_");
  const events = `${out}/events.jsonl`;
  const r = await cli([
    TINY,
    ...plugin(files, "maxavg_pool.ts", "scale_grad.ts", "events_logger.ts"),
    "--out",
    out,
    "--epochs",
    "3",
    "--grid",
    "pooling=max,maxavg:kernel=8;regularizer=none,scale_grad:factor=0",
    "--early-stopping",
    "patience=1",
    "--logger",
    `+events:path=${events}`,
    "--logger",
    "-tensorboard",
  ]);
  assertEquals(r.code, 0, r.err);
  const v = `${out}/version_0`;
  const rows = await readCsv(`${v}/metrics.csv`);
  const runs = [...new Set(rows.map((x) => x.run))];
  assertEquals(runs.length, 4);
  // The choices are columns, per run.
  for (const x of rows) {
    assertEquals(x.early_stopping, "patience=1");
    assert(["max", "maxavg:kernel=8"].includes(x.pooling), x.pooling);
    assert(["none", "scale_grad:factor=0"].includes(x.regularizer), x.regularizer);
  }
  const of = (pooling: string, reg: string) =>
    rows.filter((x) => x.pooling === pooling && x.regularizer === reg);
  // The pooling plugin's window (kernel 8 instead of the network's 4) sizes the head: 4×4×4.
  for (const [pooling, inputs] of [["max", 256], ["maxavg:kernel=8", 64]] as const) {
    const ck = await loadCheckpoint(`${v}/${of(pooling, "none")[0].run}/last.ckpt`);
    assertEquals(ck.weights["5.weight"].shape, [6, inputs]);
  }
  // The regularizer zeroes every gradient: the weights never move, so the test loss stays
  // the same, and early stopping (patience 1) ends those runs after epoch 2.
  for (const pooling of ["max", "maxavg:kernel=8"]) {
    const frozen = of(pooling, "scale_grad:factor=0");
    assertEquals(frozen.map((x) => x.epoch), ["1", "2"]);
    assertEquals(frozen[0].TestLoss, frozen[1].TestLoss);
    const status = JSON.parse(await Deno.readTextFile(`${v}/${frozen[0].run}/run.json`));
    assertEquals(status.stoppedEarly, true);
    const learning = of(pooling, "none");
    assert(learning[0].TestLoss !== learning[1].TestLoss, `${pooling}: no learning`);
  }
  // The logger: each run's start, every epoch's figures (as in metrics.csv), its end.
  const logged = await lines(events);
  for (const run of runs) {
    const mine = logged.filter((e) => e.run === run);
    assertEquals(mine[0].event, "start");
    assertEquals(mine[0].hparams.pooling, rows.find((x) => x.run === run)!.pooling);
    assertEquals(mine.at(-1).event, "end");
    const epochs = mine.filter((e) => e.event === "epoch");
    const csv = rows.filter((x) => x.run === run);
    assertEquals(epochs.map((e) => e.epoch), csv.map((x) => Number(x.epoch)));
    assertEquals(epochs.map((e) => e.TestAccuracy), csv.map((x) => Number(x.TestAccuracy)));
  }
  // -tensorboard: no event file; the other default loggers still write.
  for (const run of runs) {
    const names = [...Deno.readDirSync(`${v}/${run}`)].map((e) => e.name);
    assert(!names.some((n) => n.includes("tfevents")), `${run}: ${names}`);
    assert(names.includes("summary.json") && names.includes("report.html"), `${run}: ${names}`);
  }
  // options.json records the plugin files; --resume loads them without --plugin.
  const saved = JSON.parse(await Deno.readTextFile(`${v}/options.json`));
  assertEquals(saved.plugins.length, 3);
  const again = await cli([TINY, "--resume", out, "--epochs", "4"]);
  assertEquals(again.code, 0, again.err);
  const after = await readCsv(`${v}/metrics.csv`);
  assertEquals(after.filter((x) => x.epoch === "4").length, 2); // the frozen runs had stopped
  const resumed = (await lines(events)).filter((e) => e.event === "start" && e.resumed === 3);
  assertEquals(resumed.length, 2);
});

Deno.test("plugin stages at the named points, a callback plugin and an optimizer plugin", async () => {
  const files = await guidePlugins();
  const out = await tempDir("plugin_stages_");
  const tap = (point: string) => `tap@${point}:path=${out}/${point}.jsonl`;
  const r = await cli([
    TINY,
    ...plugin(files, "stages.ts", "target_stop.ts", "signum.ts"),
    "--out",
    out,
    "--epochs",
    "2",
    "--optimizer",
    "signum",
    "--early-stopping",
    "target_stop:accuracy=0",
    "--stage",
    "clip@batch:min=0,max=0",
    "--stage",
    `${tap("decode")};${tap("augment")}`,
    "--stage",
    tap("step"),
    "--stage",
    tap("evaluate"),
  ]);
  assertEquals(r.code, 0, r.err);
  const run = `${out}/version_0/run`;
  // target_stop:accuracy=0 stops after the first epoch.
  const rows = await readCsv(`${out}/version_0/metrics.csv`);
  assertEquals(rows.map((x) => [x.epoch, x.optimizer, x.early_stopping]), [
    ["1", "signum", "target_stop:accuracy=0"],
  ]);
  // clip to [0, 0] at the batch point (training and test): every test image looks the same,
  // so every prediction is the same class — one column of the confusion matrix.
  const summary = JSON.parse(await Deno.readTextFile(`${run}/summary.json`));
  const used = summary.confusion[0].map((_: number, c: number) =>
    summary.confusion.some((row: number[]) => row[c] > 0)
  );
  assertEquals(used.filter(Boolean).length, 1);
  // The taps: samples after decode (training and test), augmented training samples, the
  // train step's results, one record after evaluation.
  const decoded = await lines(`${out}/decode.jsonl`);
  const augmented = await lines(`${out}/augment.jsonl`);
  assert(decoded.every((s) => typeof s.path === "string" && typeof s.label === "number"));
  assert(decoded.some((s) => s.path.includes("seg_test")), "test stream after decode");
  assert(!augmented.some((s) => s.path.includes("seg_test")), "augment is training only");
  assertEquals(decoded.length - augmented.length, testCount(summary));
  const steps = await lines(`${out}/step.jsonl`);
  assertEquals(steps.filter((s) => s.final).length, 1);
  assertEquals(steps.at(-1).final, true);
  assertEquals((await lines(`${out}/evaluate.jsonl`)).map((m) => m.epoch), [1]);
});

/** The test split's size, from summary.json's per-class support. */
function testCount(summary: { best: { support: Record<string, number> } }): number {
  return Object.values(summary.best.support).reduce((a, b) => a + b, 0);
}

Deno.test("the guide's plugin files type-check; --help lists their names (paths relative to the current folder)", async () => {
  const files = await guidePlugins();
  const checked = await new Deno.Command(Deno.execPath(), {
    args: ["check", ...Object.values(files)],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assertEquals(checked.code, 0, new TextDecoder().decode(checked.stderr));
  const rel = Object.fromEntries(Object.entries(files).map(([k, v]) => [k, relative(ROOT, v)]));
  assert(!rel["stages.ts"].startsWith("/"), rel["stages.ts"]);
  const r = await cli([TINY, ...plugin(rel, ...Object.keys(rel)), "--help"], {
    WEBGPU_TRAIN_NO_GPU: "1",
  });
  assertEquals(r.code, 0, r.err);
  for (
    const [kind, name] of [
      ["pooling", "maxavg"],
      ["optimizer", "signum"],
      ["regularizer", "scale_grad"],
      ["callback", "target_stop"],
      ["stage", "tap"],
      ["logger", "events"],
    ]
  ) {
    const line = r.out.split("\n").find((l) => l.trim().startsWith(kind + " "));
    assert(line?.includes(name), `${kind}: ${line}`);
  }
});

/** Two classes of the fixtures, 3 training and 2 test images each (custom_cnn.ts is slow). */
async function twoClasses(): Promise<string> {
  const to = await tempDir("two_classes_");
  for (const [split, n] of [["seg_train", 3], ["seg_test", 2]] as const) {
    for (const cls of ["buildings", "forest"]) {
      const from = `${ROOT}fixtures/intel/${split}/${split}/${cls}`;
      const jpgs = [...Deno.readDirSync(from)].map((e) => e.name).filter((f) =>
        /^\d+\.jpg$/.test(f)
      )
        .sort().slice(0, n);
      await Deno.mkdir(`${to}/${split}/${cls}`, { recursive: true });
      for (const f of jpgs) await Deno.copyFile(`${from}/${f}`, `${to}/${split}/${cls}/${f}`);
    }
  }
  return to;
}

Deno.test("custom_cnn.ts --pooling lp:p=2: LpPool layers in model.onnx, the choice in metrics.csv", async () => {
  const data = await twoClasses();
  const out = await tempDir("plugin_cnn_");
  const r = await cli(["custom_cnn.ts", "--data", data, "--out", out, "--pooling", "lp:p=2"]);
  assertEquals(r.code, 0, r.err);
  const rows = await readCsv(`${out}/version_0/metrics.csv`);
  assertEquals(rows.map((x) => x.pooling), ["lp:p=2"]);
  const model = await readOnnxFile(`${out}/version_0/run/model.onnx`);
  const ops = model.graph.nodes.map((n) => n.opType);
  assertEquals(ops.filter((o) => o === "LpPool").length, 3);
  assert(!ops.includes("AveragePool"), ops.join(" "));
});

Deno.test("predict --plugin: a model holding a plugin's layer imports only with the plugin file (its codec)", async () => {
  await initGpu();
  const lp = await import("../onnx/_global_lp_pool_plugin.ts");
  const rng = new Rng(1);
  const net = new Sequential(
    new Conv2d(3, 4, 3, { rng }),
    new ReLU(),
    new lp.GlobalLpPool2d(3),
    new Flatten(),
    new Linear(4, 2, { rng }),
    new LogSoftmax(),
  );
  const dir = await tempDir("plugin_predict_");
  await exportOnnx(net.eval(), `${dir}/model.onnx`, {
    inputShape: [1, 3, 16, 16],
    classes: ["a", "b"],
  });
  net.dispose();
  const image = `${ROOT}fixtures/intel/seg_test/seg_test/forest/13.jpg`;
  const without = await run("predict.ts", [`${dir}/model.onnx`, image], {
    WEBGPU_TRAIN_NO_GPU: "1",
  });
  assertEquals(without.code, 2, without.err);
  assert(/GlobalLpPool/.test(without.err), without.err);
  const plugin = "tests/onnx/_global_lp_pool_plugin.ts"; // relative to the current folder
  const r = await run("predict.ts", ["--plugin", plugin, `${dir}/model.onnx`, image, "--json"]);
  assertEquals(r.code, 0, r.err);
  const out = JSON.parse(r.out);
  assertEquals(out.length, 1);
  assert(["a", "b"].includes(out[0].top[0].class), r.out);
});
