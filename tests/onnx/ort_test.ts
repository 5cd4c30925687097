/**
 * ONNX Runtime's native backend leaves nothing in TMPDIR: its telemetry would write a
 * session file and a log per process there (`.ses`, `mat-debug-<pid>.log`) unless
 * `ORT_DISABLE_TELEMETRY` is set, which `ortSession` does when the user has not. The session
 * runs in a child process with a clean environment (this process may have set the variable
 * already) and a TMPDIR of its own.
 */
import { assert, assertEquals } from "../assert.ts";
import { tempDir } from "../_temp.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

Deno.test("ortSession (native): a run leaves nothing in TMPDIR", async () => {
  const tmp = await tempDir();
  const keep = ["PATH", "HOME", "DENO_DIR", "DENO_WEBGPU_BACKEND", "XDG_RUNTIME_DIR"];
  const env: Record<string, string> = { TMPDIR: tmp };
  for (const k of keep) {
    const v = Deno.env.get(k);
    if (v !== undefined) env[k] = v;
  }
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-q", "-A", `${ROOT}tests/onnx/_ort_child.ts`],
    cwd: ROOT,
    env,
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const err = new TextDecoder().decode(r.stderr);
  assertEquals(r.code, 0, err);
  const y = JSON.parse(new TextDecoder().decode(r.stdout));
  assert(Array.isArray(y) && y.length === 2 && y.every(Number.isFinite), `output ${y}`);
  assertEquals([...Deno.readDirSync(tmp)].map((e) => e.name), []);
});
