/**
 * Runs that never mix: each invocation trains into its own `version_N`, a live run holds
 * the `--out` folder's lock (a second one exits 3), SIGTERM checkpoints mid-epoch and exits
 * 143, `--resume` takes any of its path forms and the run's own options, and one rule picks
 * the best epoch in every output.
 */
import { assert, assertEquals } from "../assert.ts";
import { loadCheckpoint } from "../../training/checkpoint.ts";
import { readCsv } from "../../stages/log/csv.ts";
import {
  assertSameCheckpoint,
  assertSameMetrics,
  cli,
  lastOf,
  snapshot,
  startBlocked,
  TINY,
} from "./_cli.ts";
import { tempDir } from "../_temp.ts";

Deno.test("a rerun into a used --out gets version_1 and leaves version_0 byte-identical", async () => {
  const out = await tempDir();
  const first = await cli([TINY, "--out", out, "--epochs", "2", "--lr", "0.01"]);
  assertEquals(first.code, 0, first.err);
  const before = await snapshot(`${out}/version_0`);
  const second = await cli([TINY, "--out", out, "--epochs", "1", "--lr", "0.003"]);
  assertEquals(second.code, 0, second.err);
  assert(second.out.includes(`${out}/version_1`), second.out);
  const after = await snapshot(`${out}/version_0`);
  assertEquals([...after.entries()], [...before.entries()]);
  const rows = await readCsv(`${out}/version_1/metrics.csv`);
  assertEquals(rows.map((r) => [r.epoch, r.lr]), [["1", "0.003"]]);
  assertEquals((await readCsv(`${out}/version_0/metrics.csv`)).map((r) => r.lr), ["0.01", "0.01"]);
});

Deno.test("a second run into a live run's folder exits 3 naming the holder; SIGTERM then resume equals an uninterrupted run", async () => {
  const a = await tempDir(), b = await tempDir();
  assertEquals((await cli([TINY, "--out", a, "--epochs", "3"])).code, 0);
  // Blocked mid-epoch 2 (124 usable training images: 31 steps an epoch at batch 4).
  const live = await startBlocked([TINY, "--out", b, "--epochs", "3"], 40);
  const second = await cli([TINY, "--out", b, "--epochs", "1"]);
  assertEquals(second.code, 3, second.err);
  assert(new RegExp(`in use by pid ${live.child.pid} on `).test(second.err), second.err);
  assertEquals(second.err.trim().split("\n").length, 1, second.err);
  const resumeWhileLive = await cli([TINY, "--resume", b]);
  assertEquals(resumeWhileLive.code, 3, resumeWhileLive.err);
  const stopped = await live.stop("SIGTERM");
  assertEquals(stopped.code, 143, stopped.all);
  assert(/interrupted by SIGTERM in epoch 2 after step 40/.test(stopped.all), stopped.all);
  const hint = /resume with: (.+)$/m.exec(stopped.all);
  assert(hint && hint[1].endsWith(`--resume ${b}/version_0`), stopped.all);
  const ck = await lastOf(`${b}/version_0/run`);
  assertEquals([ck.epoch, ck.step], [1, 40]);
  // The first run was unharmed by the second one: one version, its lock released.
  assertEquals([...Deno.readDirSync(b)].map((e) => e.name).sort(), ["version_0"]);
  const resumed = await cli([TINY, "--resume", `${b}/version_0`]);
  assertEquals(resumed.code, 0, resumed.err);
  assert(/resumed after epoch 1 and 9 step\(s\) of epoch 2/.test(resumed.err), resumed.err);
  // TensorBoard sees one run: the resumed run's event file superseded the first one.
  const events = (d: string) => [...Deno.readDirSync(d)].filter((e) => e.name.startsWith("events"));
  assertEquals(events(`${b}/version_0/run`).length, 1);
  assertSameCheckpoint(
    await lastOf(`${a}/version_0/run`),
    await lastOf(`${b}/version_0/run`),
    "SIGTERM",
  );
  await assertSameMetrics(`${a}/version_0/metrics.csv`, `${b}/version_0/metrics.csv`);
});

Deno.test("SIGINT (Ctrl-C) checkpoints after the current step and exits 130 with the resume command", async () => {
  const out = await tempDir();
  const live = await startBlocked([TINY, "--out", out, "--epochs", "2"], 4);
  const stopped = await live.stop("SIGINT");
  assertEquals(stopped.code, 130, stopped.all);
  assert(/interrupted by SIGINT in epoch 1 after step 4/.test(stopped.all), stopped.all);
  assert(new RegExp(`resume with: .*--resume ${out}/version_0`).test(stopped.all), stopped.all);
  const ck = await lastOf(`${out}/version_0/run`);
  assertEquals([ck.epoch, ck.step], [0, 4]);
  assert(!(await Deno.stat(`${out}/.lock`).then(() => true, () => false)), "lock released");
});

Deno.test("a lock left by a dead process is taken over with a line saying so", async () => {
  const out = await tempDir();
  // A pid that cannot be alive on Linux (above pid_max).
  const stale = {
    pid: 4194305,
    host: Deno.hostname(),
    started: "2026-01-01T00:00:00Z",
    command: "x",
  };
  await Deno.writeTextFile(`${out}/.lock`, JSON.stringify(stale));
  const r = await cli([TINY, "--out", out, "--epochs", "1"]);
  assertEquals(r.code, 0, r.err);
  assert(/taking over the lock .*pid 4194305/.test(r.out), r.out);
  assert(!(await Deno.stat(`${out}/.lock`).catch(() => null)), "the lock was not released");
});

Deno.test("--resume takes the --out folder, a run folder or a checkpoint; flags must match, --epochs extends", async () => {
  const ref = await tempDir();
  assertEquals((await cli([TINY, "--out", ref, "--epochs", "3", "--lr", "0.01"])).code, 0);
  const want = await lastOf(`${ref}/version_0/run`);
  for (const form of ["out", "run", "ckpt"]) {
    const out = await tempDir();
    // Killed mid-epoch 2 (31 steps an epoch).
    const killed = await startBlocked([TINY, "--out", out, "--epochs", "2", "--lr", "0.01"], 40);
    assertEquals((await killed.stop("SIGKILL")).signal, "SIGKILL");
    const target = { out, run: `${out}/version_0/run`, ckpt: `${out}/version_0/run/last.ckpt` }[
      form as "out"
    ];
    const changed = await cli([TINY, "--resume", target, "--lr", "0.02"]);
    assertEquals(changed.code, 2, changed.err);
    assert(/--lr 0\.02 differs from the resumed run's 0\.01/.test(changed.err), changed.err);
    // Resumed with no other flag: lr 0.01 comes from the run itself; --epochs 3 extends it.
    const r = await cli([TINY, "--resume", target, "--epochs", "3"]);
    assertEquals(r.code, 0, `${form}: ${r.err}`);
    assertSameCheckpoint(want, await lastOf(`${out}/version_0/run`), `--resume ${form}`);
    await assertSameMetrics(`${ref}/version_0/metrics.csv`, `${out}/version_0/metrics.csv`);
  }
});

Deno.test("resuming a grid continues the unfinished run, skips the finished one, keeps the names", async () => {
  const ref = await tempDir(), out = await tempDir();
  const args = ["--epochs", "2", "--grid", "lr=0.003,0.01"];
  assertEquals((await cli([TINY, "--out", ref, ...args])).code, 0);
  // Killed in the second run's epoch 2 (31 steps an epoch).
  const killed = await startBlocked([TINY, "--out", out, ...args], "lr=0.01@40");
  const first = killed.output();
  assert(/lr=0\.003 {2}epoch 2\/2 {2}train loss/.test(first), "the first run finishes before");
  assertEquals((await killed.stop("SIGKILL")).signal, "SIGKILL");
  const r = await cli([TINY, "--resume", out]);
  assertEquals(r.code, 0, r.err);
  assert(/lr=0\.003: finished \(2 epochs\), skipped/.test(r.out), r.out);
  assert(/lr=0\.01: resumed after epoch 1/.test(r.err), r.err);
  for (const name of ["lr=0.003", "lr=0.01"]) {
    assertSameCheckpoint(
      await lastOf(`${ref}/version_0/${name}`),
      await lastOf(`${out}/version_0/${name}`),
      name,
    );
  }
  await assertSameMetrics(`${ref}/version_0/metrics.csv`, `${out}/version_0/metrics.csv`);
});

Deno.test("early stopping's kept best weights survive a SIGKILL: the resumed run stops the same", async () => {
  // At lr 0.01 the test accuracy reaches its best (100%) at epoch 2; patience 2 stops after
  // epoch 4 and restores epoch 2.
  const args = ["--epochs", "6", "--lr", "0.01", "--patience", "2", "--monitor", "TestAccuracy"];
  const a = await tempDir(), b = await tempDir();
  const ref = await cli([TINY, "--out", a, ...args]);
  assertEquals(ref.code, 0, ref.err);
  assert(/early stopping after epoch 4/.test(ref.err + ref.out), ref.err);
  // Killed in epoch 4 (31 steps an epoch): the checkpoint is epoch 3's, the kept copy epoch 2's.
  const killed = await startBlocked([TINY, "--out", b, ...args], 100);
  assertEquals((await killed.stop("SIGKILL")).signal, "SIGKILL");
  const r = await cli([TINY, "--resume", b]);
  assertEquals(r.code, 0, r.err);
  assert(/early stopping after epoch 4/.test(r.err + r.out), r.err);
  assertSameCheckpoint(
    await lastOf(`${a}/version_0/run`),
    await lastOf(`${b}/version_0/run`),
    "ES",
  );
  // The resume is finished for good: a further resume skips the run.
  const again = await cli([TINY, "--resume", b]);
  assertEquals(again.code, 0, again.err);
  assert(/run: finished \(4 epochs\), skipped/.test(again.out), again.out);
});

Deno.test("one best epoch: ties go to the lower test loss, then the earlier epoch, in every output", async () => {
  const out = await tempDir();
  // A learning rate this small leaves every epoch's figures equal: a tie everywhere.
  const r = await cli([TINY, "--out", out, "--epochs", "3", "--lr", "1e-30"]);
  assertEquals(r.code, 0, r.err);
  const dir = `${out}/version_0/run`;
  const rows = await readCsv(`${out}/version_0/metrics.csv`);
  assertEquals(new Set(rows.map((x) => x.TestAccuracy)).size, 1);
  assertEquals(new Set(rows.map((x) => x.TestLoss)).size, 1);
  const summary = JSON.parse(await Deno.readTextFile(`${dir}/summary.json`));
  assertEquals(summary.bestEpoch, 1);
  assertEquals((await loadCheckpoint(`${dir}/best.ckpt`)).epoch, 1);
  assertEquals((await lastOf(dir)).best?.epoch, 1);
  const html = await Deno.readTextFile(`${dir}/report.html`);
  assert(/best test accuracy [\d.]+% at epoch 1;/.test(html), "report: best epoch");
  assert(html.includes("Confusion matrix (epoch 1)"), "report: confusion epoch");
  const table = r.out.split("\n");
  const firstRow = table[table.findIndex((l) => /^-\s+---/.test(l)) + 1];
  assert(/^1\s+run\s+1\s/.test(firstRow), `best-N table starts with epoch 1: ${firstRow}`);
  assert(await tensorBoardBestEpochIs(dir, 1), "TensorBoard Best/epoch");
});

/** Reads the run's event file with the independent Python reader; checks `Best/epoch`. */
async function tensorBoardBestEpochIs(dir: string, epoch: number): Promise<boolean> {
  const reader = new URL("../stages/log/read_tfevents.py", import.meta.url).pathname;
  const file = [...Deno.readDirSync(dir)].find((e) => e.name.startsWith("events.out"))!.name;
  const out = await new Deno.Command("/usr/bin/python3", { args: [reader, `${dir}/${file}`] })
    .output();
  assert(out.success, new TextDecoder().decode(out.stderr));
  const { events } = JSON.parse(new TextDecoder().decode(out.stdout)) as {
    events: { step: number; values?: { tag: string; simple_value?: number }[] }[];
  };
  const best = events.flatMap((e) => e.values ?? []).filter((v) => v.tag === "Best/epoch");
  return best.length === 3 && best.every((v) => v.simple_value === epoch);
}
