import { assert, assertEquals, INTEL, ROOT } from "./_helpers.ts";

async function run(...args: string[]): Promise<{ code: number; out: string }> {
  const cmd = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${ROOT}stages/data_cli.ts`, ...args],
    stdout: "piped",
    stderr: "piped",
  });
  const r = await cmd.output();
  const dec = new TextDecoder();
  return { code: r.code, out: dec.decode(r.stdout) + dec.decode(r.stderr) };
}

Deno.test("data task: prints layout, class counts, sizes and unusable files; exit 0", async () => {
  const { code, out } = await run(INTEL);
  assertEquals(code, 0);
  assert(out.includes("Layout: intel"), out);
  assert(/buildings\s+6\s+2/.test(out), out);
  assert(/forest\s+5\s+2/.test(out), out);
  assert(/total\s+34\s+12/.test(out), out);
  assert(/150×150\s+48/.test(out), out);
  assert(/500×374\s+2/.test(out) && /150×113\s+1/.test(out), out);
  assert(out.includes("forest/empty.jpg: empty file"), out);
  assert(out.includes("mountain/truncated.jpg: truncated JPEG"), out);
  assert(out.includes("street/not_an_image.jpg: not a JPEG or PNG"), out);
  assert(out.includes("Unlabelled (pred): 5 usable"), out);
});

Deno.test("data task: --strict fails on unusable files; a missing folder fails naming it", async () => {
  assertEquals((await run(INTEL, "--strict")).code, 1);
  const missing = await run("/nonexistent/folder");
  assertEquals(missing.code, 1);
  assert(missing.out.includes("/nonexistent/folder"), missing.out);
});
