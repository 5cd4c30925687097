/**
 * Bad input to the commands (`pipeline`, `retrain`, `predict`, `data`) is refused with exit code
 * 2 and one line saying what is wrong (plus the usage line), before any GPU work: every
 * case runs with `WEBGPU_TRAIN_NO_GPU=1`, under which starting WebGPU or an ONNX Runtime
 * session throws, so a case that reached GPU work would fail with another message and code.
 */
import { assert, assertEquals } from "../assert.ts";
import { ROOT, run } from "./_cli.ts";
import { tempDir } from "../_temp.ts";

const NO_GPU = { WEBGPU_TRAIN_NO_GPU: "1" };
const JPEG = `${ROOT}fixtures/intel/seg_train/seg_train/buildings/1.jpg`;

/** Folders of bad data sets, made once. */
async function dataFolders(): Promise<Record<string, string>> {
  const base = await tempDir();
  const make = async (name: string, files: string[]) => {
    for (const f of files) {
      await Deno.mkdir(`${base}/${name}/${f.slice(0, f.lastIndexOf("/"))}`, { recursive: true });
      await Deno.copyFile(JPEG, `${base}/${name}/${f}`);
    }
    await Deno.mkdir(`${base}/${name}`, { recursive: true });
    return `${base}/${name}`;
  };
  return {
    empty: await make("empty", []),
    oneClass: await make("one", ["train/a/1.jpg", "train/a/2.jpg", "test/a/3.jpg"]),
    tooFew: await make("few", ["a/1.jpg", "b/1.jpg"]),
    notOnnx: `${ROOT}README.md`,
    runs: await make("runs", ["x/y.jpg"]),
  };
}

type Case = [what: string, script: string, args: string[], message: RegExp];

function cases(d: Record<string, string>): Case[] {
  const p = (what: string, args: string[], m: RegExp): Case => [what, "cli.ts", args, m];
  return [
    p("unknown flag", ["intel.ts", "--nosuch", "1"], /unknown flag --nosuch/),
    p("not a number", ["intel.ts", "--lr", "abc"], /--lr needs a number/),
    p("batch size 0", ["intel.ts", "--batch-size", "0"], /--batch-size must be a whole number > 0/),
    p("fractional epochs", ["intel.ts", "--epochs", "1.5"], /--epochs must be a whole number/),
    p("negative weight decay", ["intel.ts", "--weight-decay", "-1"], /--weight-decay must be/),
    p("unknown optimizer", ["intel.ts", "--optimizer", "nosuch"], /no optimizer "nosuch"; known: /),
    p("dropout 2", ["intel.ts", "--dropout", "2"], /--dropout must be a number ≥ 0 and < 1/),
    p("hidden 0", ["intel.ts", "--hidden", "0"], /--hidden must be a whole number ≥ 1/),
    p("unknown backend", ["intel.ts", "--features", "gpu9"], /--features must be one of/),
    p("grid JSON syntax", ["intel.ts", "--grid", '{"lr": [1e-3,'], /--grid: bad JSON/),
    p("grid lr=-1", ["intel.ts", "--grid", "lr=-1"], /--grid run lr=-1: --lr must be/),
    p("grid epochs=0", ["intel.ts", "--grid", "epochs=0"], /--grid run epochs=0: --epochs must/),
    p("grid unknown key", ["intel.ts", "--grid", "nosuch=1,2"], /"nosuch" is not a hyper-param/),
    p("grid dropout", ["intel.ts", "--grid", "dropout=0.1,3"], /dropout=3: --dropout must be/),
    // Read once an invocation: a grid over them would log values no run used.
    p("grid weights", ["intel.ts", "--grid", "weights=a.onnx,b.onnx"], /"weights" is not a hyp/),
    p("grid features", ["intel.ts", "--grid", "features=ort,engine"], /"features" is not a hyp/),
    p("missing data", ["intel.ts", "--data", "/nonexistent"], /data folder not found/),
    p("empty data", ["intel.ts", "--data", d.empty], /no images in data folder/),
    p("one class", ["intel.ts", "--data", d.oneClass], /1 class folder\(s\) \(a\)/),
    p("too few to split", ["intel.ts", "--data", d.tooFew], /no test split and too few/),
    p("--strict on bad images", ["intel.ts", "--strict"], /--strict: \d+ unusable file\(s\)/),
    p("missing model", ["intel.ts", "--weights", "/nonexistent.onnx"], /nonexistent\.onnx/),
    p("not an ONNX file", ["intel.ts", "--weights", d.notOnnx], /README\.md/),
    p(
      "resume nothing",
      ["intel.ts", "--resume", "/nonexistent"],
      /--resume \/nonexistent: no such/,
    ),
    p("resume no runs", ["intel.ts", "--resume", d.runs], /holds no runs/),
    p(
      "--out under a file",
      ["intel.ts", "--out", `${d.notOnnx}/runs`],
      /README\.md is not a folder/,
    ),
    p(
      "--out a file",
      ["fashion_mnist.ts", "--out", d.notOnnx],
      /--out .*README\.md is not a folder/,
    ),
    p("custom_cnn dropout 1", ["custom_cnn.ts", "--dropout", "1"], /--dropout must be/),
    p(
      "custom_cnn takes no --weights",
      ["custom_cnn.ts", "--weights", "x"],
      /unknown flag --weights/,
    ),
    p(
      "fashion takes no --weights",
      ["fashion_mnist.ts", "--weights", "x"],
      /unknown flag --weights/,
    ),
    p("fashion missing data", ["fashion_mnist.ts", "--data", "/nonexistent"], /no Fashion-MNIST/),
    p("fashion limit -1", ["fashion_mnist.ts", "--limit", "-1"], /--limit must be/),
    p("no pipeline file", ["nosuch.ts"], /no pipeline file nosuch\.ts/),
    ["data: missing folder", "data.ts", ["/nonexistent"], /not found/],
    ["data: unknown flag", "data.ts", ["--nosuch"], /unknown flag --nosuch/],
    ["retrain: no pipeline", "retrain.ts", ["--registry", "r"], /name the pipeline/],
    ["retrain: no registry", "retrain.ts", ["intel.ts"], /--registry <dir> is required/],
    ["retrain: --keep 0", "retrain.ts", ["intel.ts", "--registry", "r", "--keep", "0"], /--keep/],
    ["retrain: --gate", "retrain.ts", ["intel.ts", "--registry", "r", "--gate", "f1"], /--gate/],
    [
      "retrain: --grid",
      "retrain.ts",
      ["intel.ts", "--registry", "r", "--grid", "lr=1"],
      /--grid is/,
    ],
    [
      "retrain: bad cron",
      "retrain.ts",
      ["intel.ts", "--registry", "r", "--schedule", "99 * *"],
      /--schedule/,
    ],
    [
      "retrain: bad store",
      "retrain.ts",
      ["intel.ts", "--registry", "r", "--store", "mysql://x"],
      /postgres:/,
    ],
    [
      "retrain: registry under a file",
      "retrain.ts",
      ["intel.ts", "--registry", `${d.notOnnx}/registry`],
      /--registry .*README\.md is not a folder/,
    ],
    ["retrain: bad job", "retrain.ts", ["--job", "/nonexistent.json"], /--job \/nonexistent\.json/],
    ["retrain: missing data", "retrain.ts", [
      "intel.ts",
      "--registry",
      "r",
      "--data",
      "/nonexistent",
    ], /not found/],
    [
      "retrain: no hold-out",
      "retrain.ts",
      ["intel.ts", "--registry", "r", "--data", d.tooFew],
      /--holdout/,
    ],
    [
      "retrain: pipeline flag",
      "retrain.ts",
      ["intel.ts", "--registry", "r", "--lr", "-1"],
      /--lr must/,
    ],
    ["predict: bad backend", "predict.ts", ["x.onnx", JPEG, "--backend", "bogus"], /--backend/],
    ["predict: bad --top", "predict.ts", ["x.onnx", JPEG, "--top", "abc"], /--top/],
  ];
}

Deno.test("bad input to pipeline, retrain, predict and data exits 2 with one line, before any GPU work", async (t) => {
  const d = await dataFolders();
  for (const [what, script, args, message] of cases(d)) {
    await t.step(what, async () => {
      const r = await run(script, args, NO_GPU);
      const lines = r.err.trim().split("\n");
      assertEquals(r.code, 2, `${what}: exit ${r.code}\n${r.err}`);
      assert(message.test(lines[0]), `${what}: first line "${lines[0]}" lacks ${message}`);
      assert(lines.length <= 2 && /usage/.test(lines.at(-1)!), `${what}: ${r.err}`);
      assert(!/^\s+at /m.test(r.err), `${what}: stack trace\n${r.err}`);
    });
  }
  // Refused before anything was written: no registry "r" (retrain) and no runs/ folder.
  for (const left of ["r", "runs/intel", "runs/custom_cnn", "runs/fashion_mnist"]) {
    assert(!(await Deno.stat(`${ROOT}${left}`).then(() => true, () => false)), `${left} made`);
  }
});

Deno.test("deno task data --help prints the usage and exits 0", async () => {
  const r = await run("data.ts", ["--help"], NO_GPU);
  assertEquals(r.code, 0, r.err);
  assert(/usage: deno task data/.test(r.out + r.err), r.out + r.err);
  assert(!/^\s+at /m.test(r.out + r.err), "stack trace");
});
