/**
 * Temporary folders for tests, removed with everything in them when the test file ends
 * (Deno dispatches `unload` once per test module, whether its tests passed or failed). A
 * run of the pipeline writes hundreds of megabytes (custom_cnn.ts: an 83 MB model and two
 * 248 MB checkpoints), so folders left behind would fill the disk within a few CI runs.
 * `.ci/run` also points TMPDIR at a folder of its own and removes it, for a test process
 * that is killed before its modules end.
 */

const made = new Set<string>();

globalThis.addEventListener("unload", () => {
  for (const dir of made) {
    try {
      Deno.removeSync(dir, { recursive: true });
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
  }
});

/** A new temporary folder, removed when the test file ends. */
export async function tempDir(prefix = "webgpu_test_"): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix });
  made.add(dir);
  return dir;
}

/** {@link tempDir}, synchronously. */
export function tempDirSync(prefix = "webgpu_test_"): string {
  const dir = Deno.makeTempDirSync({ prefix });
  made.add(dir);
  return dir;
}
