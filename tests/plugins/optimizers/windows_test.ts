/** Parameters larger than one storage binding: the fused update runs window by window. */
import { assert } from "../../assert.ts";
import { childJson } from "../../_child.ts";

Deno.test("optimizer update and clipping on a parameter split across three bindings", async () => {
  const r = await childJson(new URL("./windows_child.ts", import.meta.url), {
    WEBGPU_MAX_BINDING_BYTES: "65536",
  });
  assert(r.maxBindingBytes === 65536 && r.windows === 3, JSON.stringify(r));
  for (const [k, e] of Object.entries(r.errs)) assert((e as number) <= 1e-5, `${k}: ${e}`);
});
