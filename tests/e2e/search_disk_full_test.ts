/**
 * A study whose `--out` disk (a real tmpfs, the SQLite study on it too) fills up while a
 * trial trains: the invocation exits 1 naming the file and the rerun command, with no
 * trial marked failed; once space is freed, rerunning the command resumes the trial from
 * its checkpoint and finishes the study.
 */
import { assert, assertEquals } from "../assert.ts";
import { cli, startBlocked } from "./_cli.ts";
import { sqliteTrials, studyArgs } from "./_search.ts";
import { noSmallDisk, smallDisk } from "../_small_disk.ts";

const ignore = noSmallDisk();

Deno.test({
  name: "a study on a full disk exits 1 with no trial failed; the rerun resumes it",
  ignore,
  async fn() {
    await using disk = smallDisk(64 << 20);
    const out = `${disk.dir}/out`;
    const args = await studyArgs(
      out,
      ...["--trials", "3", "--grid", "lr=loguniform(1e-4,1e-2)", "--epochs", "2"],
    );
    // Trial 1 is stopped after its step 3 (epoch 2), with the disk full.
    const live = await startBlocked(args, "trial_0001@3");
    await disk.fill();
    const stopped = await live.stop("SIGTERM");
    assertEquals(stopped.code, 1, stopped.all);
    const file = `${out}/version_0/trial_0001/last.ckpt`;
    assert(
      stopped.all.includes(
        `training failed: no space left on device writing ${file} ` +
          "(a rerun resumes the trial; free some space)\nresume with: ",
      ),
      stopped.all,
    );
    assert(!/^\s+at /m.test(stopped.all), `no stack trace:\n${stopped.all}`);

    await disk.free();
    const before = await sqliteTrials(out, "tiny_pipeline");
    assert(!before.some((t) => t.state === "failed"), JSON.stringify(before));
    const r = await cli(args);
    assertEquals(r.code, 0, r.out + r.err);
    assert(/trial_0001: resuming from its checkpoint/.test(r.out + r.err), r.out + r.err);
    const after = await sqliteTrials(out, "tiny_pipeline");
    assertEquals(after.map((t) => t.state), ["complete", "complete", "complete"]);
  },
});
