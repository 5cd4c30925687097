/**
 * Runs a test's child script (`deno run -A`) with extra environment variables, such as a
 * lowered `WEBGPU_MAX_BINDING_BYTES`, and returns the JSON of the last line it printed.
 * Fails with the child's stderr when it exits non-zero.
 */
import { assert } from "./assert.ts";

// deno-lint-ignore no-explicit-any
export async function childJson(script: URL, env: Record<string, string>): Promise<any> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", script.pathname],
    env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert(out.success, `child failed: ${new TextDecoder().decode(out.stderr)}`);
  return JSON.parse(new TextDecoder().decode(out.stdout).trim().split("\n").pop()!);
}
