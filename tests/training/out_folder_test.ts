/**
 * `checkOutFolder` (training/out_folder.ts): folders that exist or can be made pass and
 * nothing is left in them; a file, a path under a file and a folder nobody can write are
 * refused as usage errors naming the path.
 */
import { assert, assertEquals, assertThrows } from "../assert.ts";
import { checkOutFolder } from "../../training/out_folder.ts";
import { UsageError } from "../../training/pipeline.ts";
import { tempDir } from "../_temp.ts";

Deno.test("checkOutFolder: an existing folder and one still to make pass, and nothing is written", async () => {
  const dir = await tempDir();
  checkOutFolder(dir);
  checkOutFolder(`${dir}/runs/intel`);
  assertEquals([...Deno.readDirSync(dir)], [], "the probe file is removed; no folder is made");
});

Deno.test("checkOutFolder: a file, a path under a file, and an unwritable place are usage errors", async () => {
  const dir = await tempDir(), file = `${dir}/metrics.csv`;
  Deno.writeTextFileSync(file, "x\n");
  const refused = (out: string, message: RegExp) => {
    const e = assertThrows(() => checkOutFolder(out), UsageError);
    assert(message.test(e.message), `${out}: ${e.message}`);
    assert(!e.message.includes("\n"), "one line");
  };
  refused(file, /^--out .*metrics\.csv: .*metrics\.csv is not a folder$/);
  refused(`${file}/runs/a`, /^--out .*metrics\.csv\/runs\/a: .*metrics\.csv is not a folder$/);
  // /proc refuses new files even to root (permission bits would not stop root).
  if (Deno.build.os === "linux") {
    refused("/proc/runs", /^--out \/proc\/runs: cannot write in \/proc \(/);
  }
  assertEquals(Deno.readTextFileSync(file), "x\n");
});
