/** Parameters larger than one storage binding: the fused update runs window by window. */
import { assert } from "../../assert.ts";

Deno.test("optimizer update and clipping on a parameter split across three bindings", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("./windows_child.ts", import.meta.url).pathname],
    env: { WEBGPU_MAX_BINDING_BYTES: "65536" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  assert(out.success, `child failed: ${new TextDecoder().decode(out.stderr)}`);
  const r = JSON.parse(text.trim().split("\n").pop()!);
  assert(r.maxBindingBytes === 65536 && r.windows === 3, JSON.stringify(r));
  for (const [k, e] of Object.entries(r.errs)) assert((e as number) <= 1e-5, `${k}: ${e}`);
});
