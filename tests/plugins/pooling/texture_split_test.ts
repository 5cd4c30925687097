/**
 * Pooling inputs larger than one storage binding, processed in chunks of planes (windows
 * at offsets), read through flat textures from those offsets: the storage reads' bits and
 * the float64 references' values (run in a child process with the binding size lowered).
 */
import { assert, assertEquals } from "../../assert.ts";
import { childJson } from "../../_child.ts";

Deno.test("pooling texture reads: chunks of planes read their windows through textures", async () => {
  const r = await childJson(new URL("./texture_split_child.ts", import.meta.url), {
    WEBGPU_MAX_BINDING_BYTES: "300000",
  });
  assertEquals(r.maxBindingBytes, 300000);
  const results = Object.entries(r.out) as [string, {
    sameBits: boolean;
    fwdError: number;
    gradError: number;
    fwd: Record<string, number>;
    bwd: Record<string, number>;
    storageFwd: number;
  }][];
  assertEquals(results.length, 2);
  const [[, avg], [, lp]] = results;
  // 4 chunks a kernel: the first 3 (64 planes) read through textures, the last (8) not.
  assertEquals(avg.fwd, { x: 3, of: 4 });
  assertEquals(avg.storageFwd, 4);
  assertEquals(avg.bwd.of, 4); // its g (121 floats a plane) stays on storage
  assertEquals(lp.fwd, { x: 3, of: 4 });
  assertEquals(lp.bwd, { g: 3, x: 3, y: 3, of: 4 });
  for (const [name, e] of results) {
    assert(e.sameBits, `${name}: the routes' bits differ`);
    assert(e.fwdError <= 2e-6, `${name}: forward error ${e.fwdError}`);
    assert(e.gradError <= 2e-5, `${name}: gradient error ${e.gradError}`);
  }
});
