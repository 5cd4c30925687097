/**
 * A run that fills the disk: fashion_mnist.ts is stopped by SIGTERM in epoch 2 while its
 * small disk (a real tmpfs) is full, so the checkpoint it then writes cannot fit. It exits
 * 1 with one line naming the file and the resume command; no temporary or half-written
 * file is left, metrics.csv and the event file read back whole, epoch 1's checkpoint is
 * intact. Once space is freed, the printed command resumes it, bit-identical to an
 * uninterrupted run.
 */
import { assert, assertEquals } from "../assert.ts";
import { assertSameCheckpoint, assertSameMetrics, cli, lastOf, startBlocked } from "./_cli.ts";
import { tempDir } from "../_temp.ts";
import { noSmallDisk, smallDisk } from "../_small_disk.ts";
import { readCsv } from "../../stages/log/csv.ts";
import { readEventFile } from "../../stages/log/tfevents_read.ts";

const ignore = noSmallDisk();

function files(dir: string, out: string[] = []): string[] {
  for (const e of Deno.readDirSync(dir)) {
    const p = `${dir}/${e.name}`;
    if (e.isDirectory) files(p, out);
    else out.push(p);
  }
  return out;
}

Deno.test({
  name: "a full disk ends a run with exit 1, the file named and the resume command; it resumes",
  ignore,
  async fn() {
    // 256 images at batch 64: 4 steps an epoch; step 6 is in epoch 2.
    const args = ["fashion_mnist.ts", "--epochs", "2", "--limit", "256"];
    const ref = await tempDir();
    const r0 = await cli([...args, "--out", ref]);
    assertEquals(r0.code, 0, r0.err);

    await using disk = smallDisk(64 << 20);
    const out = `${disk.dir}/out`;
    const blocked = await startBlocked([...args, "--out", out], 6);
    await disk.fill();
    const stopped = await blocked.stop("SIGTERM");
    assertEquals(stopped.code, 1, stopped.all);
    const run = `${out}/version_0/run`;
    const line = `no space left on device writing ${run}/last.ckpt ` +
      "(the run's last checkpoint is kept; free some space)";
    assert(stopped.all.includes(`training failed: ${line}\n`), stopped.all);
    const resume = /resume with: (.+)/.exec(stopped.all)?.[1];
    assertEquals(resume, `deno task pipeline fashion_mnist.ts --resume ${out}/version_0`);
    assert(!/^\s+at /m.test(stopped.all), `no stack trace:\n${stopped.all}`);

    const left = files(out).filter((p) => /\.tmp-|staged-events/.test(p));
    assertEquals(left, [], "no temporary files");
    assertEquals((await lastOf(run)).epoch, 1, "epoch 1's checkpoint is intact");
    const rows = await readCsv(`${out}/version_0/metrics.csv`);
    assertEquals(rows.map((r) => r.epoch), ["1"]);
    const events = files(run).filter((p) => p.includes("tfevents"));
    assert(events.length > 0, "an event file");
    for (const ev of events) assert(!(await readEventFile(ev)).torn, `${ev} reads back whole`);

    await disk.free();
    const r = await cli([args[0], "--resume", `${out}/version_0`]);
    assertEquals(r.code, 0, r.err);
    assertSameCheckpoint(await lastOf(`${ref}/version_0/run`), await lastOf(run), "disk full");
    await assertSameMetrics(`${ref}/version_0/metrics.csv`, `${out}/version_0/metrics.csv`);
  },
});
