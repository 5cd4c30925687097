/**
 * intel.ts's frozen-feature backend: the probe measures every backend once per machine and
 * model, later runs open only the remembered one, and `--features probe` measures again.
 */
import { assert, assertEquals } from "../assert.ts";
import { cli } from "./_cli.ts";
import { tempDir } from "../_temp.ts";

Deno.test("intel.ts probes the feature backends once, then starts without the probe", async () => {
  const cache = await tempDir();
  const env = { XDG_CACHE_HOME: cache };
  const args = (out: string) => ["intel.ts", "--grid", "none", "--epochs", "1", "--out", out];
  const first = await cli(args(await tempDir()), env);
  assertEquals(first.code, 0, first.err);
  assert(/features: engine [\d.]+ images\/s/.test(first.out), first.out);
  const verdicts = JSON.parse(
    await Deno.readTextFile(`${cache}/webgpu-train/feature-backends.json`),
  );
  assertEquals(Object.keys(verdicts).length, 1);
  const kind = (Object.values(verdicts)[0] as { kind: string }).kind;
  assert(first.out.includes(`run: frozen features on ${kind}`), first.out);
  const second = await cli(args(await tempDir()), env);
  assertEquals(second.code, 0, second.err);
  assert(!/images\/s \(rel\. error/.test(second.out), `probed again:\n${second.out}`);
  assert(second.out.includes(`features: ${kind}, measured fastest on this machine`), second.out);
  const again = await cli([...args(await tempDir()), "--features", "probe"], env);
  assertEquals(again.code, 0, again.err);
  assert(/features: engine [\d.]+ images\/s/.test(again.out), again.out);
});
