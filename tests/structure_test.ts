/**
 * The shape of the source tree holds: no import cycle between source files, and every
 * import points down the layers `entry files → pipelines → training → models →
 * stages/plugins/onnx → core` (peers in one layer may import each other, without a cycle).
 * Imports are read from the files' text (static `import`/`export … from`, dynamic
 * `import("…")`, and worker scripts named `*_worker.ts` given to `new URL`).
 */
import { fileURLToPath } from "node:url";
import { dirname, join, normalize, relative } from "node:path";
import { assert, assertEquals } from "./assert.ts";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const SOURCE_DIRS = ["core", "onnx", "plugins", "stages", "models", "training", "pipelines"];
const LAYER: Record<string, number> = {
  core: 0,
  onnx: 1,
  plugins: 1,
  stages: 1,
  models: 2,
  training: 3,
  pipelines: 4,
  "": 5, // the entry files at the root: cli.ts, data.ts, predict.ts, retrain.ts, mod.ts
};
const SPECIFIER = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)["'](\.{1,2}\/[^"']+\.ts)["']/g;
/** A worker script is a dependency too (`new URL("./w.ts", import.meta.url)` near a Worker). */
const WORKER = /new URL\(\s*["'](\.{1,2}\/[^"']+_worker\.ts)["']/g;

function sourceFiles(): string[] {
  const out: string[] = [];
  for (const e of Deno.readDirSync(ROOT)) if (e.isFile && e.name.endsWith(".ts")) out.push(e.name);
  const walk = (dir: string) => {
    for (const e of Deno.readDirSync(join(ROOT, dir))) {
      const p = join(dir, e.name);
      if (e.isDirectory) walk(p);
      else if (e.name.endsWith(".ts")) out.push(p);
    }
  };
  for (const d of SOURCE_DIRS) walk(d);
  return out.sort();
}

/** Relative imports of one file, as paths from the repository root. */
export function importsOf(file: string, text: string): string[] {
  const stripped = text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, "");
  const found = [...stripped.matchAll(SPECIFIER), ...stripped.matchAll(WORKER)];
  return found.map((m) => normalize(join(dirname(file), m[1])));
}

function layerOf(file: string): number {
  const top = file.includes("/") ? file.split("/")[0] : "";
  return LAYER[top];
}

/** Every cycle's files in order, found by depth-first search (one cycle per back edge). */
export function cycles(graph: Map<string, string[]>): string[][] {
  const state = new Map<string, "open" | "done">();
  const stack: string[] = [];
  const found: string[][] = [];
  const visit = (n: string) => {
    state.set(n, "open");
    stack.push(n);
    for (const m of graph.get(n) ?? []) {
      if (state.get(m) === "open") found.push([...stack.slice(stack.indexOf(m)), m]);
      else if (!state.has(m)) visit(m);
    }
    stack.pop();
    state.set(n, "done");
  };
  for (const n of graph.keys()) if (!state.has(n)) visit(n);
  return found;
}

const files = sourceFiles();
const graph = new Map(
  files.map((f) => [f, importsOf(f, Deno.readTextFileSync(join(ROOT, f)))]),
);

Deno.test("cycles: the checker finds a three-file cycle and passes a chain", () => {
  const g = new Map([["a", ["b"]], ["b", ["c"]], ["c", ["a"]], ["d", ["a"]]]);
  assertEquals(cycles(g), [["a", "b", "c", "a"]]);
  assertEquals(cycles(new Map([["a", ["b"]], ["b", ["c"]], ["c", []]])), []);
  assertEquals(
    importsOf("stages/x.ts", 'import { a } from "../core/a.ts";\n// import "./no.ts"\n'),
    ["core/a.ts"],
  );
});

Deno.test("structure: every relative import names an existing file", () => {
  const missing = [...graph].flatMap(([f, deps]) =>
    deps.filter((d) => !files.includes(d) && !exists(d)).map((d) => `${f} → ${d}`)
  );
  assertEquals(missing, []);
});

Deno.test("structure: no import cycle between source files", () => {
  const found = cycles(graph).map((c) => c.join(" → "));
  assertEquals(found, []);
});

Deno.test("structure: imports point down the layers", () => {
  const upward: string[] = [];
  for (const [f, deps] of graph) {
    for (const d of deps) {
      const [from, to] = [layerOf(f), layerOf(d)];
      assert(from !== undefined, `${f}: no layer`);
      if (to === undefined) {
        upward.push(`${f} → ${relative(ROOT, join(ROOT, d))} (outside the source)`);
      } else if (to > from) upward.push(`${f} → ${d}`);
    }
  }
  assertEquals(upward, []);
});

function exists(p: string): boolean {
  try {
    return Deno.statSync(join(ROOT, p)).isFile;
  } catch {
    return false;
  }
}
