/**
 * Decode workers still start after ONNX Runtime Web has loaded: its threaded wasm build
 * replaces `globalThis.Worker` with Node's worker_threads, under which a decode worker has no
 * `self` (predict --backend ort-wasm and the frozen-feature probe load it before decoding).
 */
import { assert, assertEquals } from "../../assert.ts";
import { ortSession } from "../../../onnx/ort.ts";
import { DecodePool } from "../../../stages/workers/prefetch.ts";

const root = new URL("../../../", import.meta.url).pathname;

Deno.test("a decode pool started after ONNX Runtime Web loaded decodes", async () => {
  const s = await ortSession("ort-wasm", await Deno.readFile(`${root}fixtures/onnx/vgg/zoo.onnx`));
  await s.release();
  const pool = new DecodePool(1);
  try {
    const r = await pool.decode(`${root}fixtures/intel/seg_train/seg_train/buildings/1.jpg`);
    assert(r.ok, r.ok ? "" : r.error);
    assertEquals([r.value.width, r.value.height], [150, 150]);
  } finally {
    pool.close();
  }
});
