import { assert, assertEquals, INTEL, ROOT } from "./stages/_helpers.ts";
import { tempDir } from "./_temp.ts";

async function run(...args: string[]): Promise<{ code: number; out: string }> {
  const cmd = new Deno.Command(Deno.execPath(), {
    args: ["run", "-q", "-A", `${ROOT}data.ts`, ...args],
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
  assert(/buildings\s+21\s+8/.test(out), out);
  assert(/forest\s+20\s+8/.test(out), out);
  assert(/total\s+124\s+48/.test(out), out);
  assert(/150×150\s+174/.test(out), out);
  assert(/500×374\s+2/.test(out) && /150×113\s+1/.test(out), out);
  assert(out.includes("forest/empty.jpg: empty file"), out);
  assert(out.includes("mountain/truncated.jpg: truncated JPEG"), out);
  assert(out.includes("street/not_an_image.jpg: not a JPEG or PNG"), out);
  assert(out.includes("Unlabelled (pred): 5 usable"), out);
});

Deno.test("data task: --strict fails on unusable files; --workers 0 decodes inline", async () => {
  assertEquals((await run(INTEL, "--strict")).code, 1);
  const inline = await run(INTEL, "--workers", "0");
  assertEquals(inline.code, 0, inline.out);
  assert(/total\s+124\s+48/.test(inline.out), inline.out);
});

Deno.test("data task: --help prints the usage and exits 0", async () => {
  const { code, out } = await run("--help");
  assertEquals(code, 0);
  assert(out.startsWith("usage: deno task data <dir>"), out);
  assert(!out.includes("    at "), out);
});

Deno.test("data task: bad arguments exit 2 with one line and the usage line", async () => {
  const cases: [string[], string][] = [
    [[], "data: missing the data folder"],
    [[INTEL, "--bogus"], "data: unknown flag --bogus"],
    [[INTEL, "extra"], "data: expected one data folder, got 2"],
    [["/nonexistent/folder"], "data: data folder not found: /nonexistent/folder"],
    [[`${INTEL}/../make_intel.py`], `data: not a folder: ${INTEL}/../make_intel.py`],
    [[INTEL, "--workers", "abc"], "data: --workers must be an integer ≥ 0, got abc"],
    [[INTEL, "--workers", "-1"], "data: --workers must be an integer ≥ 0, got -1"],
    [[INTEL, "--workers"], "data: --workers needs a value"],
    [[INTEL, "--strict=yes"], "data: --strict does not take a value"],
  ];
  for (const [args, message] of cases) {
    const { code, out } = await run(...args);
    const lines = out.trim().split("\n");
    assertEquals(code, 2, `${args.join(" ")}: ${out}`);
    assertEquals(lines[0], message);
    assertEquals(lines.length, 2, out);
    assert(lines[1].startsWith("usage: deno task data"), out);
  }
});

Deno.test("data task: an unusable data folder (DataError) exits 2 with one line", async () => {
  const dir = await tempDir();
  try {
    await Deno.writeTextFile(`${dir}/notes.txt`, "no images\n");
    const { code, out } = await run(dir);
    assertEquals(code, 2, out);
    assertEquals(out.trim(), `data: no images in data folder ${dir}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
