/** Tensors larger than one storage binding are split, never truncated. */
import { assert } from "../assert.ts";
import { childJson } from "../_child.ts";

Deno.test("a weight larger than one binding: linear forward, backward, SGD and elementwise", async () => {
  const r = await childJson(new URL("./split_child.ts", import.meta.url), {
    WEBGPU_MAX_BINDING_BYTES: "65536",
  });
  assert(r.maxBindingBytes === 65536 && r.weightBytes > r.maxBindingBytes, JSON.stringify(r));
  for (const [k, e] of Object.entries(r.errs)) assert((e as number) <= 1e-4, `${k}: ${e}`);
});
