/**
 * The command people run: flags, exit codes, the grid, early stopping, and a run killed
 * with SIGKILL mid-epoch that resumes to exactly the same weights and metrics.
 */
import { assert, assertEquals } from "../assert.ts";
import { loadCheckpoint } from "../../stages/checkpoint.ts";
import { readCsv } from "../../stages/log/csv.ts";

const root = new URL("../../", import.meta.url).pathname;
const tiny = new URL("./tiny_pipeline.ts", import.meta.url).pathname;

async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${root}cli.ts`, ...args],
    cwd: root,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: r.code, out: dec.decode(r.stdout), err: dec.decode(r.stderr) };
}

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
  const out = await Deno.makeTempDir();
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
  const rows = await readCsv(`${out}/metrics.csv`);
  assertEquals(rows.length, 4);
  assertEquals(new Set(rows.map((x) => x.run)).size, 4);
  for (const x of rows) {
    for (
      const c of ["TrainLoss", "TrainAccuracy", "TestLoss", "TestAccuracy", "lr", "batch_size"]
    ) {
      assert(x[c] !== undefined && x[c] !== "", `column ${c} empty`);
    }
  }
  const dirs = [...Deno.readDirSync(out)].filter((e) => e.isDirectory).map((e) => e.name).sort();
  assertEquals(dirs, [
    "lr=0.001_batch_size=4",
    "lr=0.001_batch_size=8",
    "lr=0.003_batch_size=4",
    "lr=0.003_batch_size=8",
  ]);
  assert(/best 4 row\(s\) by TestAccuracy, over 4 run\(s\)/.test(r.out), r.out);
});

Deno.test("early stopping ends the run when the monitored metric stops improving", async () => {
  const out = await Deno.makeTempDir();
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
  assertEquals((await readCsv(`${out}/metrics.csv`)).length, 2);
  const bad = await cli([tiny, "--out", out, "--patience", "1", "--monitor", "val_acc"]);
  assertEquals(bad.code, 2);
  assert(/val_acc.*TestAccuracy/.test(bad.err), bad.err);
});

Deno.test("a run killed with SIGKILL mid-epoch resumes to the same weights and metrics", async () => {
  const a = await Deno.makeTempDir(), b = await Deno.makeTempDir();
  const args = ["--epochs", "3"];
  assertEquals((await cli([tiny, "--out", a, ...args])).code, 0);
  // Start the same run, and kill it once epoch 2 is under way.
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${root}cli.ts`, tiny, "--out", b, ...args],
    cwd: root,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  while (!/epoch 1\/3 .*train loss/.test(seen)) {
    const { value, done } = await reader.read();
    if (done) break;
    seen += value;
  }
  await new Promise((r) => setTimeout(r, 150));
  child.kill("SIGKILL");
  const status = await child.status;
  reader.releaseLock();
  await child.stdout.cancel();
  await child.stderr.cancel().catch(() => {});
  assert(!status.success, "the run was not killed");
  const killed = await loadCheckpoint(`${b}/run/last.ckpt`);
  assert(killed.epoch < 3, `the kill came too late (epoch ${killed.epoch})`);
  const resumed = await cli([tiny, "--out", b, ...args, "--resume", `${b}/run`]);
  assertEquals(resumed.code, 0, resumed.err);
  const [ca, cb] = [
    await loadCheckpoint(`${a}/run/last.ckpt`),
    await loadCheckpoint(`${b}/run/last.ckpt`),
  ];
  assertEquals(cb.epoch, 3);
  for (const [name, e] of Object.entries(ca.weights)) {
    const f = cb.weights[name].data;
    assert(e.data.every((v, i) => Object.is(v, f[i])), `${name} differs after resume`);
  }
  const [ra, rb] = [await readCsv(`${a}/metrics.csv`), await readCsv(`${b}/metrics.csv`)];
  assertEquals(rb.length, 3);
  for (let i = 0; i < 3; i++) {
    for (const c of ["epoch", "TrainLoss", "TrainAccuracy", "TestLoss", "TestAccuracy"]) {
      assertEquals(rb[i][c], ra[i][c], `epoch ${i + 1} ${c}`);
    }
  }
});
