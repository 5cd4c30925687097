/** Tensors larger than one storage binding are split, never truncated. */
import { assert } from "../assert.ts";

Deno.test("a weight larger than one binding: linear forward, backward, SGD and elementwise", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("./split_child.ts", import.meta.url).pathname],
    env: { WEBGPU_MAX_BINDING_BYTES: "65536" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  assert(out.success, `child failed: ${new TextDecoder().decode(out.stderr)}`);
  const r = JSON.parse(text.trim().split("\n").pop()!);
  assert(r.maxBindingBytes === 65536 && r.weightBytes > r.maxBindingBytes, JSON.stringify(r));
  for (const [k, e] of Object.entries(r.errs)) assert((e as number) <= 1e-4, `${k}: ${e}`);
});
