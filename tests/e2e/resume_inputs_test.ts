/**
 * A resume whose `--weights` file is no longer the one the run was trained on is refused
 * with one line and exit 2 before any GPU work (options.json fingerprints the file), and the
 * same file passes that check. Runs under `WEBGPU_TRAIN_NO_GPU=1`: starting WebGPU throws,
 * so the first invocation stops (exit 1) right after writing its version folder, and a
 * resume that passed the check fails the same way instead of exiting 2.
 */
import { assert, assertEquals } from "../assert.ts";
import { ROOT, run } from "./_cli.ts";
import { tempDir } from "../_temp.ts";

const NO_GPU = { WEBGPU_TRAIN_NO_GPU: "1" };

Deno.test("--resume with another --weights file is refused before any GPU work; the same file passes", async () => {
  const dir = await tempDir(), w = `${dir}/backbone.onnx`, out = `${dir}/out`;
  await Deno.copyFile(`${ROOT}fixtures/onnx/scenes/backbone.onnx`, w);
  const args = ["intel.ts", "--weights", w, "--out", out, "--epochs", "1", "--grid", "none"];
  const first = await run("cli.ts", args, NO_GPU);
  assertEquals(first.code, 1, first.err);
  const saved = JSON.parse(await Deno.readTextFile(`${out}/version_0/options.json`));
  assertEquals(saved.inputs.weights.bytes, (await Deno.stat(w)).size);
  // Another valid model under the same name.
  await Deno.copyFile(`${ROOT}fixtures/onnx/vgg/torchvision.onnx`, w);
  const other = await run("cli.ts", ["intel.ts", "--resume", out], NO_GPU);
  assertEquals(other.code, 2, other.err);
  const line = other.err.trim().split("\n")[0];
  assert(/--weights .*backbone\.onnx is not the file the run was trained on/.test(line), line);
  assert(!/^\s+at /m.test(other.err), other.err);
  // Gone.
  await Deno.remove(w);
  const gone = await run("cli.ts", ["intel.ts", "--resume", out], NO_GPU);
  assertEquals(gone.code, 2, gone.err);
  // The file it was trained on again: past the check, to the GPU work.
  await Deno.copyFile(`${ROOT}fixtures/onnx/scenes/backbone.onnx`, w);
  const same = await run("cli.ts", ["intel.ts", "--resume", out], NO_GPU);
  assertEquals(same.code, 1, same.err);
  assert(/resuming .*version_0/.test(same.out), same.out);
});

Deno.test("a study rerun with another --weights file is refused before any GPU work", async () => {
  const dir = await tempDir(), w = `${dir}/backbone.onnx`, out = `${dir}/out`;
  await Deno.copyFile(`${ROOT}fixtures/onnx/scenes/backbone.onnx`, w);
  const args = ["intel.ts", "--weights", w, "--out", out, "--epochs", "1"];
  const study = [...args, "--search", "random", "--trials", "1", "--study", "s"];
  const grid = ["--grid", "lr=loguniform(1e-4,1e-2)"];
  const first = await run("cli.ts", [...study, ...grid], NO_GPU);
  assertEquals(first.code, 1, first.err); // its trial failed at the GPU
  await Deno.copyFile(`${ROOT}fixtures/onnx/vgg/torchvision.onnx`, w);
  const other = await run("cli.ts", [...study, ...grid], NO_GPU);
  assertEquals(other.code, 2, other.err);
  const line = other.err.trim().split("\n")[0];
  assert(
    /^error: study "s" in .*version_0: --weights .*backbone\.onnx is not the file its trials were trained on/
      .test(line),
    line,
  );
});
