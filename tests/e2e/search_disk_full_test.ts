/**
 * A study whose `--out` disk (a real tmpfs, the SQLite study on it too) fills up while a
 * trial trains, with one process or two worker processes: the invocation exits 1 naming
 * the file and the rerun command, with no trial marked failed and no study report
 * attempted (a worker tells its parent with exit code 75); once space is freed, rerunning
 * the command resumes the trial from its checkpoint and finishes the study.
 */
import { assert, assertEquals } from "../assert.ts";
import { cli, startBlocked } from "./_cli.ts";
import { sqliteTrials, studyArgs } from "./_search.ts";
import { noSmallDisk, smallDisk } from "../_small_disk.ts";

const ignore = noSmallDisk();

/** The study stopped on a full disk, checked by `ending`; then freed and rerun. */
async function fullDisk(workers: string[], ending: (out: string) => RegExp): Promise<void> {
  await using disk = smallDisk(64 << 20);
  const out = `${disk.dir}/out`;
  const args = await studyArgs(
    out,
    ...["--trials", "3", "--grid", "lr=loguniform(1e-4,1e-2)", "--epochs", "2", ...workers],
  );
  // Trial 1 is stopped after its step 3 (epoch 2), with the disk full.
  const live = await startBlocked(args, "trial_0001@3");
  await disk.fill();
  const stopped = await live.stop("SIGTERM");
  assertEquals(stopped.code, 1, stopped.all);
  assert(ending(`${out}/version_0`).test(stopped.all), stopped.all);
  assert(!/version_0\/report\.html/.test(stopped.all), `a study report:\n${stopped.all}`);
  assert(!/^\s+at /m.test(stopped.all), `no stack trace:\n${stopped.all}`);

  await disk.free();
  const before = await sqliteTrials(out, "tiny_pipeline");
  assert(!before.some((t) => t.state === "failed"), JSON.stringify(before));
  const r = await cli(args);
  assertEquals(r.code, 0, r.out + r.err);
  assert(/trial_0001: resuming from its checkpoint/.test(r.out + r.err), r.out + r.err);
  const after = await sqliteTrials(out, "tiny_pipeline");
  assertEquals(after.map((t) => t.state), ["complete", "complete", "complete"]);
}

const literal = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

Deno.test({
  name: "a study on a full disk exits 1 with no trial failed; the rerun resumes it",
  ignore,
  fn: () =>
    fullDisk([], (v) =>
      new RegExp(
        literal(
          `training failed: no space left on device writing ${v}/trial_0001/last.ckpt ` +
            "(a rerun resumes the trial; free some space)\nresume with: ",
        ),
      )),
});

Deno.test({
  name: "a study of two worker processes on a full disk ends the same way",
  ignore,
  // The parent names a worker's file: the blocked trial's checkpoint, or what the other
  // worker was writing when the disk filled.
  fn: () =>
    fullDisk(["--workers", "2"], (v) =>
      new RegExp(
        `\\ntraining failed: no space left on device writing ${literal(v)}/\\S+ ` +
          "\\(a rerun resumes the trial; free some space\\)\\nresume with: .*--workers 2",
      )),
});
