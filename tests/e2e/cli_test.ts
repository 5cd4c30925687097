/**
 * The command people run: flags, exit codes, the grid, early stopping, and a run killed
 * with SIGKILL mid-epoch that resumes to exactly the same weights and metrics.
 */
import { assert, assertEquals } from "../assert.ts";
import { readCsv } from "../../stages/log/csv.ts";
import {
  assertSameCheckpoint,
  assertSameMetrics,
  cli,
  lastOf,
  startBlocked,
  TINY as tiny,
} from "./_cli.ts";
import { tempDir } from "../_temp.ts";

Deno.test("bad usage exits 2 with a usage line; --help lists the pipeline's own flags", async () => {
  const unknown = await cli(["linear_regression.ts", "--learning-rate", "1"]);
  assertEquals(unknown.code, 2);
  assert(/usage: deno task pipeline/.test(unknown.err), unknown.err);
  const bad = await cli(["linear_regression.ts", "--lr", "abc"]);
  assertEquals(bad.code, 2);
  assert(/--lr needs a number/.test(bad.err), bad.err);
  const missing = await cli(["no_such_pipeline.ts"]);
  assertEquals(missing.code, 2);
  const none = await cli([]);
  assertEquals(none.code, 2);
  const help = await cli([tiny, "--help"]);
  assertEquals(help.code, 0);
  for (const f of ["--patience", "--grid", "--resume", "--batch-size", "--weight-decay"]) {
    assert(help.out.includes(f), `--help lacks ${f}`);
  }
  const range = await cli([tiny, "--epochs", "0"]);
  assertEquals(range.code, 2);
});

Deno.test("a diverging run stops with exit code 1, naming the epoch and the learning rate", async () => {
  const r = await cli(["linear_regression.ts", "--lr", "0.1"]);
  assertEquals(r.code, 1);
  assert(/epoch \d+/.test(r.err) && /learning rate 0\.1 is too high/.test(r.err), r.err);
  assert(!/^final /m.test(r.out), "no final line after divergence");
});

Deno.test("the grid runs every combination into one metrics.csv and prints the best rows", async () => {
  const out = await tempDir();
  const r = await cli([
    tiny,
    "--out",
    out,
    "--epochs",
    "1",
    "--grid",
    "lr=0.003,0.001;batch_size=4,8",
  ]);
  assertEquals(r.code, 0, r.err);
  const rows = await readCsv(`${out}/version_0/metrics.csv`);
  assertEquals(rows.length, 4);
  assertEquals(new Set(rows.map((x) => x.run)).size, 4);
  for (const x of rows) {
    for (
      const c of ["TrainLoss", "TrainAccuracy", "TestLoss", "TestAccuracy", "lr", "batch_size"]
    ) {
      assert(x[c] !== undefined && x[c] !== "", `column ${c} empty`);
    }
  }
  const dirs = [...Deno.readDirSync(`${out}/version_0`)].filter((e) => e.isDirectory)
    .map((e) => e.name).sort();
  assertEquals(dirs, [
    "lr=0.001_batch_size=4",
    "lr=0.001_batch_size=8",
    "lr=0.003_batch_size=4",
    "lr=0.003_batch_size=8",
  ]);
  assert(/best 4 row\(s\) by TestAccuracy, over 4 run\(s\)/.test(r.out), r.out);
  // The ending names the best run, its figures and where its report is.
  const best = /best run: (\S+), epoch 1: test accuracy [\d.]+%, test loss [\d.]+/.exec(r.out);
  assert(best, r.out);
  assert(r.out.includes(`report:      ${out}/version_0/${best[1]}/report.html`), r.out);
  assert(r.out.includes(`grid report: ${out}/version_0/report.html`), r.out);
  assert((await Deno.stat(`${out}/version_0/report.html`)).isFile, "grid report written");
});

Deno.test("early stopping ends the run when the monitored metric stops improving", async () => {
  const out = await tempDir();
  const r = await cli([
    tiny,
    "--out",
    out,
    "--epochs",
    "6",
    "--lr",
    "1e-12",
    "--patience",
    "1",
    "--monitor",
    "TestAccuracy",
  ]);
  assertEquals(r.code, 0, r.err);
  assert(/early stopping after epoch 2/.test(r.err + r.out), r.err);
  assertEquals((await readCsv(`${out}/version_0/metrics.csv`)).length, 2);
  const bad = await cli([tiny, "--out", out, "--patience", "1", "--monitor", "val_acc"]);
  assertEquals(bad.code, 2);
  assert(/val_acc.*TestAccuracy/.test(bad.err), bad.err);
});

Deno.test("a run killed with SIGKILL mid-epoch resumes to the same weights and metrics", async () => {
  const a = await tempDir(), b = await tempDir();
  const args = ["--epochs", "3"];
  assertEquals((await cli([tiny, "--out", a, ...args])).code, 0);
  // The same run, killed after step 40 (epoch 2 of 3: 124 usable training images, 31 steps
  // an epoch at batch 4).
  const blocked = await startBlocked([tiny, "--out", b, ...args], 40);
  const killed = await blocked.stop("SIGKILL");
  assertEquals(killed.signal, "SIGKILL");
  assertEquals((await lastOf(`${b}/version_0/run`)).epoch, 1);
  const resumed = await cli([tiny, "--resume", b]);
  assertEquals(resumed.code, 0, resumed.err);
  assert(/resumed after epoch 1/.test(resumed.err + resumed.out), resumed.err);
  assertSameCheckpoint(
    await lastOf(`${a}/version_0/run`),
    await lastOf(`${b}/version_0/run`),
    "SIGKILL",
  );
  await assertSameMetrics(`${a}/version_0/metrics.csv`, `${b}/version_0/metrics.csv`);
});
