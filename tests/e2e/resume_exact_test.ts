/**
 * The real pipelines stopped mid-run and resumed end bit-identical to an uninterrupted run:
 * intel.ts with its default head dropout 0.3 (SIGKILL, and SIGTERM with its mid-epoch
 * checkpoint), custom_cnn.ts (SIGKILL) and fashion_mnist.ts (SIGKILL) — every generator
 * comes back from the checkpoint without the pipeline listing it; intel.ts's checkpoints
 * hold its head, its frozen backbone only as a fingerprint.
 */
import { assert, assertEquals } from "../assert.ts";
import {
  assertSameCheckpoint,
  assertSameMetrics,
  cli,
  firstSet,
  lastOf,
  startBlocked,
} from "./_cli.ts";
import { tempDir } from "../_temp.ts";

/** Runs `args` into a fresh folder uninterrupted; then again, stopped after `step` by `signal`, resumed. */
async function stopAndResume(
  args: string[],
  step: number,
  signal: "SIGKILL" | "SIGTERM",
  hasDropout = true,
): Promise<void> {
  const a = await tempDir(), b = await tempDir();
  const ref = await cli([...args, "--out", a]);
  assertEquals(ref.code, 0, ref.err);
  const blocked = await startBlocked([...args, "--out", b], step);
  const stopped = await blocked.stop(signal);
  if (signal === "SIGKILL") assertEquals(stopped.signal, "SIGKILL");
  else assertEquals(stopped.code, 143, stopped.all);
  const r = await cli([args[0], "--resume", b]);
  assertEquals(r.code, 0, r.err);
  assert(/resumed after epoch/.test(r.err), r.err);
  const ca = await lastOf(`${a}/version_0/run`), cb = await lastOf(`${b}/version_0/run`);
  assertSameCheckpoint(ca, cb, `${args[0]} ${signal}`);
  if (args[0] === "intel.ts") {
    // The frozen backbone is fingerprinted, not saved: only the head's tensors.
    assert(ca.frozen && ca.frozen.names.length > 0, "the frozen parameters' fingerprint");
    assertEquals(ca.frozen, cb.frozen);
    const saved = Object.keys(ca.weights);
    assert(saved.length > 0 && saved.every((n) => !ca.frozen!.names.includes(n)), `${saved}`);
  } else assertEquals(ca.frozen, undefined, "nothing frozen");
  if (hasDropout) {
    assert(Object.keys(ca.rng).some((k) => /mask/.test(k)), "the dropout generator is saved");
  }
  await assertSameMetrics(`${a}/version_0/metrics.csv`, `${b}/version_0/metrics.csv`);
  assert((await Deno.stat(`${b}/version_0/run/model.onnx`)).isFile, "model.onnx exported");
}

// 124 usable training images: 4 steps an epoch at batch 32; step 10 is in epoch 3.
const INTEL = ["intel.ts", "--grid", "none", "--epochs", "3", "--features", "engine"];

Deno.test("intel.ts (dropout 0.3) killed with SIGKILL in epoch 3 resumes bit-identical", async () => {
  await stopAndResume(INTEL, 10, "SIGKILL");
});

Deno.test("intel.ts stopped by SIGTERM mid-epoch resumes bit-identical", async () => {
  // 16 steps an epoch at batch 8: step 18 is the second of epoch 2.
  const args = ["intel.ts", "--grid", "none", "--epochs", "2", "--features", "engine"];
  await stopAndResume([...args, "--batch-size", "8"], 18, "SIGTERM");
});

Deno.test("custom_cnn.ts killed with SIGKILL in epoch 2 resumes bit-identical", async () => {
  // On the fixtures' first set (the network trains at about 2 images a second here): 34
  // usable training images, 3 steps an epoch at batch 16; step 4 is the first of epoch 2.
  const data = await firstSet();
  await stopAndResume(["custom_cnn.ts", "--epochs", "2", "--data", data], 4, "SIGKILL");
});

Deno.test("fashion_mnist.ts killed with SIGKILL in epoch 2 resumes bit-identical", async () => {
  // 256 images at batch 64: 4 steps an epoch.
  await stopAndResume(["fashion_mnist.ts", "--epochs", "2", "--limit", "256"], 6, "SIGKILL", false);
});
