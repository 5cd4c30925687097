/** Pooling inputs larger than one storage binding are processed in chunks of planes. */
import { assert } from "../../assert.ts";
import { childJson } from "../../_child.ts";

Deno.test("pooling ops split inputs larger than one binding into chunks of planes", async () => {
  const r = await childJson(new URL("./split_child.ts", import.meta.url), {
    WEBGPU_MAX_BINDING_BYTES: "65536",
  });
  assert(r.maxBindingBytes === 65536 && r.inputBytes > 2 * r.maxBindingBytes, JSON.stringify(r));
  assert(Object.keys(r.errs).length === 4, JSON.stringify(r));
  assert(r.chunks === 3, `expected 3 chunks of 256 planes, got ${r.chunks} dispatches`);
  for (const [k, e] of Object.entries(r.errs) as [string, { fwd: number; grad: number }][]) {
    assert(e.fwd <= 1e-5, `${k}: forward error ${e.fwd}`);
    assert(e.grad <= 1e-3, `${k}: gradient error ${e.grad}`);
  }
});
