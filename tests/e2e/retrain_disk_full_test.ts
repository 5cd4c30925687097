/**
 * A retraining cycle that fills its registry's disk (a real tmpfs) exits 1 with the file it
 * could not write and no stack trace; once space is freed, the next cycle resumes that
 * candidate from its checkpoint instead of starting a new one.
 */
import { assert, assertEquals } from "../assert.ts";
import { firstSet, run, startBlocked } from "./_cli.ts";
import { tempDir } from "../_temp.ts";
import { noSmallDisk, smallDisk } from "../_small_disk.ts";

const ignore = noSmallDisk();

Deno.test({
  name: "retrain on a full disk exits 1 naming the file; the next cycle resumes the candidate",
  ignore,
  async fn() {
    const data = await firstSet(`${await tempDir()}/data`);
    await using disk = smallDisk(256 << 20);
    const reg = `${disk.dir}/registry`;
    const args = ["intel.ts", "--registry", reg, "--data", data, "--epochs", "2"];
    // Stopped in epoch 2 (34 usable training images: 2 steps an epoch at batch 32).
    const blocked = await startBlocked([...args, "--features", "engine"], 3, "retrain.ts");
    await disk.fill();
    const stopped = await blocked.stop("SIGTERM");
    assertEquals(stopped.code, 1, stopped.all);
    const ckpt = `${reg}/candidates/c0001/version_0/run/last.ckpt`;
    assert(
      stopped.all.includes(`training failed: no space left on device writing ${ckpt} `),
      stopped.all,
    );
    assert(/the next retrain cycle resumes this candidate/.test(stopped.all), stopped.all);
    assert(!/^\s+at /m.test(stopped.all), `no stack trace:\n${stopped.all}`);

    await disk.free();
    const r = await run("retrain.ts", [...args, "--features", "engine"]);
    assertEquals(r.code, 0, r.err);
    assert(/c0001: resuming the candidate of an interrupted cycle/.test(r.out), r.out);
    assert(/resumed after epoch 1/.test(r.err), r.err);
    assert(/^promoted c0001: first champion/m.test(r.out), r.out);
  },
});
