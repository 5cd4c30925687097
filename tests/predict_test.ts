/**
 * `deno task predict`: bad input is refused with exit 2 and one line (plus the usage line)
 * before any GPU work — each case runs under WEBGPU_TRAIN_NO_GPU=1, where starting the GPU
 * or ONNX Runtime throws — and a run folder exported from a tiny network predicts a mix of
 * image files and folders as CSV and JSON. The references are independent of the engine:
 * ONNX Runtime (native CPU) on the same file, and on a file exported from the network
 * whose checkpoint `--weights` loads. A checkpoint of another architecture is refused
 * naming the first parameter that does not fit.
 */
import { join } from "node:path";
import { assert, assertEquals } from "./assert.ts";
import { noGrad } from "../core/autograd.ts";
import { initGpu } from "../core/gpu.ts";
import { Flatten, LogSoftmax, ReLU } from "../core/nn/activation.ts";
import { BatchNorm2d } from "../core/nn/batchnorm.ts";
import { Conv2d } from "../core/nn/conv.ts";
import { Linear } from "../core/nn/linear.ts";
import { Sequential } from "../core/nn/sequential.ts";
import { Rng } from "../core/random.ts";
import { fromArray, tidy } from "../core/tensor.ts";
import { exportOnnx } from "../onnx/export.ts";
import { emptyModel, floatValue, writeOnnxFile } from "../onnx/write.ts";
import { MaxPool2d } from "../plugins/pooling/max.ts";
import { encodeCheckpoint, saveCheckpoint } from "../training/checkpoint.ts";
import { frozenPrint } from "../training/frozen.ts";
import { parseCsv } from "../stages/log/csv.ts";
import { BACKENDS } from "../training/predict_args.ts";
import { tempDir } from "./_temp.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const PRED = `${ROOT}fixtures/intel/seg_pred/seg_pred`;
const ONE = `${ROOT}fixtures/intel/seg_test/seg_test/forest/14.jpg`;
const CLASSES = ["cat", "dog", "owl"];

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

async function predict(args: string[], noGpu = false): Promise<Result> {
  const env: Record<string, string> = noGpu ? { WEBGPU_TRAIN_NO_GPU: "1" } : {};
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-q", "-A", `${ROOT}predict.ts`, ...args],
    cwd: ROOT,
    env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: r.code, stdout: dec.decode(r.stdout), stderr: dec.decode(r.stderr) };
}

/** The tiny network (3×16×16 → 3 classes); `width` changes the architecture. */
function tiny(seed: number, width = 4, extra = false): Sequential {
  const rng = new Rng(seed);
  const layers = [
    new Conv2d(3, width, 3, { padding: 1, rng }),
    new BatchNorm2d(width),
    new ReLU(),
    new MaxPool2d({ kernel: 2 }),
    new Flatten(),
    new Linear(width * 64, 3, { rng }),
    new LogSoftmax(),
  ];
  if (extra) layers.push(new Linear(3, 3, { rng }));
  const net = new Sequential(...layers);
  // Non-trivial running statistics: one training-mode pass.
  const x = Float32Array.from({ length: 4 * 3 * 16 * 16 }, (_, i) => Math.sin(i * 0.37 + seed));
  net.train();
  tidy(() => noGrad(() => net.forward(fromArray(x, [4, 3, 16, 16]))));
  net.eval();
  return net;
}

async function checkpointOf(net: Sequential, path: string, drop?: string): Promise<void> {
  const weights = await net.stateDict();
  if (drop) delete weights[drop];
  await saveCheckpoint(path, {
    weights,
    epoch: 1,
    step: 1,
    rng: {},
    classes: Object.fromEntries(CLASSES.map((c, i) => [c, i])),
    hparams: {},
  });
}

/** Builds the fixtures once: run folders, checkpoints and broken files in a temp folder. */
async function makeFixtures(): Promise<Record<string, string>> {
  await initGpu();
  const dir = await tempDir("predict_test_");
  const f = (name: string) => join(dir, name);
  for (const d of ["run", "run_no_ckpt", "not_a_run", "empty", "text_only", "run_frozen"]) {
    await Deno.mkdir(f(d));
  }
  const a = tiny(1), b = tiny(2), wide = tiny(3, 8), deeper = tiny(4, 4, true);
  const opts = { inputShape: [1, 3, 16, 16], classes: CLASSES };
  await exportOnnx(a, f("run/model.onnx"), opts);
  await exportOnnx(a, f("run_no_ckpt/model.onnx"), opts);
  await exportOnnx(b, f("b.onnx"), opts);
  await checkpointOf(b, f("run/best.ckpt"));
  await checkpointOf(b, f("no_running_var.ckpt"), "1.running_var");
  await checkpointOf(wide, f("wide.ckpt"));
  await checkpointOf(deeper, f("deeper.ckpt"));
  // A run whose first conv was frozen (a "backbone" from a's file): its checkpoint holds
  // b's other tensors and a fingerprint of a's conv; model.onnx is a with a's conv.
  for (const [n, p] of a.namedParameters()) if (n.startsWith("0.")) p.requiresGrad = false;
  const print = await frozenPrint(a);
  const head = await b.stateDict();
  delete head["0.weight"], delete head["0.bias"];
  await exportOnnx(a, f("run_frozen/model.onnx"), opts);
  await saveCheckpoint(f("run_frozen/best.ckpt"), {
    weights: head,
    frozen: print,
    epoch: 1,
    step: 1,
    rng: {},
    classes: Object.fromEntries(CLASSES.map((c, i) => [c, i])),
    hparams: {},
  });
  // What it must predict: b with a's conv; and a run whose model file has b's conv instead.
  const mixed = tiny(2);
  const aConv = Object.entries(await a.stateDict()).filter(([k]) => k.startsWith("0."));
  mixed.loadStateDict({ ...head, ...Object.fromEntries(aConv) });
  await exportOnnx(mixed, f("mixed.onnx"), opts);
  await Deno.mkdir(f("run_frozen_other"));
  await exportOnnx(b, f("run_frozen_other/model.onnx"), opts);
  await Deno.copyFile(f("run_frozen/best.ckpt"), f("run_frozen_other/best.ckpt"));
  for (const n of [a, b, wide, deeper, mixed]) n.dispose();
  const whole = encodeCheckpoint({
    weights: { w: { shape: [4], data: new Float32Array(4) } },
    epoch: 0,
    step: 0,
    rng: {},
    classes: {},
    hparams: {},
  });
  const bytes = new Uint8Array(whole.reduce((s, c) => s + c.length, 0));
  whole.reduce((off, c) => (bytes.set(c, off), off + c.length), 0);
  await Deno.writeFile(f("truncated.ckpt"), bytes.subarray(0, bytes.length - 12));
  await Deno.writeTextFile(f("garbage.onnx"), "this is not a protobuf\n".repeat(20));
  await Deno.writeTextFile(f("notes.txt"), "hello\n");
  await Deno.writeTextFile(f("text_only/readme.txt"), "no images here\n");
  const erf = emptyModel(13);
  erf.graph.nodes = [{
    name: "erf0",
    opType: "Erf",
    domain: "",
    inputs: ["input"],
    outputs: ["output"],
    attributes: {},
  }];
  erf.graph.inputs = erf.graph.declaredInputs = [floatValue("input", ["batch", 3, 16, 16])];
  erf.graph.outputs = [floatValue("output", ["batch", 3, 16, 16])];
  await writeOnnxFile(erf, f("erf.onnx"));
  return new Proxy({ dir }, { get: (_t, k) => (k === "dir" ? dir : f(String(k))) });
}

let fixtures: Promise<Record<string, string>> | null = null;
const fx = () => (fixtures ??= makeFixtures());

/** Asserts exit 2 with `predict: <message>` (and optionally the usage line), no stack. */
function assertRefused(r: Result, message: string | RegExp, usage = true): void {
  const what = `stderr: ${r.stderr}`;
  assertEquals(r.code, 2, what);
  assert(!r.stderr.includes("    at "), `stack trace in ${what}`);
  const lines = r.stderr.split("\n").filter((l) => l.trim());
  const ours = lines.filter((l) => l.startsWith("predict:"));
  assertEquals(ours.length, 1, what);
  if (typeof message === "string") assertEquals(ours[0], `predict: ${message}`, what);
  else assert(message.test(ours[0]), `${message} does not match ${ours[0]}`);
  if (usage) {
    assertEquals(lines.length, 2, what);
    assert(lines[1].startsWith("usage: deno task predict"), what);
  }
  assertEquals(r.stdout, "", `nothing on stdout: ${r.stdout}`);
}

Deno.test("predict: bad input exits 2 with one line, before any GPU work", async (t) => {
  const f = await fx();
  const run = f.run, img = ONE;
  const cases: [string, string[], string | RegExp][] = [
    ["unknown flag", ["--bogus", run, img], "unknown flag --bogus"],
    ["unknown short flag", [run, img, "-x"], "unknown flag -x"],
    [
      "unknown backend",
      [run, img, "--backend", "bogus"],
      `--backend must be one of ${BACKENDS.join(", ")}, got bogus`,
    ],
    ["--top abc", [run, img, "--top", "abc"], "--top must be a positive integer, got abc"],
    ["--top 0", [run, img, "--top", "0"], "--top must be a positive integer, got 0"],
    ["--top -2", [run, img, "--top", "-2"], "--top must be a positive integer, got -2"],
    ["--top without value", [run, img, "--top"], "--top needs a value"],
    ["--batch 1.5", [run, img, "--batch", "1.5"], "--batch must be a positive integer, got 1.5"],
    ["--batch=-4", [run, img, "--batch=-4"], "--batch must be a positive integer, got -4"],
    ["--size x", [run, img, "--size", "x"], "--size must be a positive integer, got x"],
    ["--csv=1", [run, img, "--csv=1"], "--csv does not take a value"],
    ["--csv and --json", [run, img, "--csv", "--json"], "--csv and --json exclude each other"],
    ["no arguments", [], "missing the model (an .onnx file, run folder or checkpoint)"],
    ["no images", [run], "missing the images (files or folders)"],
    ["model not found", [`${f.dir}/nope.onnx`, img], `model not found: ${f.dir}/nope.onnx`],
    [
      "folder without model.onnx",
      [f.not_a_run, img],
      `${f.not_a_run} is neither an .onnx file, a run folder with model.onnx, nor a checkpoint`,
    ],
    [
      "text file as model",
      [f["notes.txt"], img],
      `${f["notes.txt"]} is neither an .onnx file, a run folder with model.onnx, nor a checkpoint`,
    ],
    [
      "checkpoint without --onnx",
      [f["wide.ckpt"], img],
      `${f["wide.ckpt"]}: a checkpoint needs --onnx FILE for the network's architecture`,
    ],
    [
      "--onnx not found",
      [f["wide.ckpt"], img, "--onnx", `${f.dir}/nope.onnx`],
      `--onnx ${f.dir}/nope.onnx: not found`,
    ],
    [
      "truncated checkpoint",
      [f["truncated.ckpt"], img, "--onnx", `${run}/model.onnx`],
      new RegExp(`^predict: ${f["truncated.ckpt"]}: not a valid checkpoint \\(.+\\)$`),
    ],
    [
      "non-ONNX .onnx file",
      [f["garbage.onnx"], img],
      new RegExp(`^predict: ${f["garbage.onnx"]}: .+`),
    ],
    [
      "operator the engine lacks",
      [f["erf.onnx"], img],
      `${
        f["erf.onnx"]
      }: unsupported operator (operator 'Erf', node 'erf0', opset 13); try --backend ort-node`,
    ],
    [
      "--weights with an .onnx file",
      [`${run}/model.onnx`, img, "--weights"],
      "--weights needs a run folder, not an .onnx file",
    ],
    [
      "--weights without a checkpoint",
      [f.run_no_ckpt, img, "--weights"],
      `--weights: run folder ${f.run_no_ckpt} has no best.ckpt or last.ckpt`,
    ],
    [
      "--weights on ONNX Runtime",
      [run, img, "--weights", "--backend", "ort-node"],
      "a checkpoint's weights load with --backend engine only",
    ],
    ["image not found", [run, `${f.dir}/nope.jpg`], `image path not found: ${f.dir}/nope.jpg`],
    ["empty image folder", [run, f.empty], `no images in ${f.empty}`],
    ["folder without images", [run, PRED, f.text_only], `no images in ${f.text_only}`],
    [
      "a file that is not an image",
      [run, img, f["notes.txt"]],
      `${f["notes.txt"]}: not an image file (.jpg, .jpeg, .png)`,
    ],
  ];
  for (const [name, args, message] of cases) {
    await t.step(name, async () => assertRefused(await predict(args, true), message));
  }
});

Deno.test("predict: --help prints the usage and exits 0", async () => {
  const r = await predict(["--help"], true);
  assertEquals(r.code, 0);
  assert(r.stdout.startsWith("usage: deno task predict"), r.stdout);
});

interface Row {
  path: string;
  top: { class: string; probability: number }[];
}

function fromCsv(text: string): { header: string[]; rows: Row[] } {
  const [header, ...records] = parseCsv(text).filter((r) => r.length > 1);
  const rows = records.map((r) => {
    const top = [];
    for (let k = 1; k < r.length; k += 2) top.push({ class: r[k], probability: Number(r[k + 1]) });
    return { path: r[0], top };
  });
  return { header, rows };
}

function assertSameRows(a: Row[], b: Row[], what: string): void {
  assertEquals(a.map((r) => r.path), b.map((r) => r.path), what);
  a.forEach((r, i) => {
    assertEquals(r.top.map((t) => t.class), b[i].top.map((t) => t.class), `${what}: ${r.path}`);
    r.top.forEach((t, k) => {
      const d = Math.abs(t.probability - b[i].top[k].probability);
      assert(
        d <= 1e-4,
        `${what}: ${r.path} probability ${t.probability} vs ${b[i].top[k].probability}`,
      );
    });
  });
}

const EXPECTED_PATHS = [
  ...[...Deno.readDirSync(PRED)].map((e) => join(PRED, e.name)).sort(),
  ONE,
];

Deno.test("predict: a run folder over a folder and a file, as CSV and JSON", async () => {
  const f = await fx();
  const csv = await predict([f.run, PRED, ONE, "--csv", "--top", "2"]);
  assertEquals(csv.code, 0, csv.stderr);
  assert(csv.stderr.includes(`${EXPECTED_PATHS.length} images`), csv.stderr);
  const { header, rows } = fromCsv(csv.stdout);
  assertEquals(header, ["path", "class", "probability", "class2", "probability2"]);
  assertEquals(rows.map((r) => r.path).sort(), [...EXPECTED_PATHS].sort());
  for (const r of rows) {
    assertEquals(r.top.length, 2);
    assert(r.top.every((t) => CLASSES.includes(t.class) && t.probability >= 0), r.path);
    assert(r.top[0].probability >= r.top[1].probability, r.path);
    assert(r.top[0].probability + r.top[1].probability <= 1 + 1e-5, r.path);
  }
  const json = await predict([f.run, PRED, ONE, "--json", "--top", "2"]);
  assertEquals(json.code, 0, json.stderr);
  const parsed = JSON.parse(json.stdout) as Row[];
  assertEquals(parsed.length, EXPECTED_PATHS.length);
  assertSameRows(parsed, rows, "JSON vs CSV");
  // Independent reference: ONNX Runtime on the same file.
  const ort = await predict([f.run, PRED, ONE, "--json", "--top", "2", "--backend", "ort-node"]);
  assertEquals(ort.code, 0, ort.stderr);
  assertSameRows(parsed, JSON.parse(ort.stdout), "engine vs ONNX Runtime");
  // The default table: a header and one line per image.
  const table = await predict([f.run, ONE, PRED]);
  assertEquals(table.code, 0, table.stderr);
  const lines = table.stdout.trim().split("\n");
  assert(/^path\s+class\s+probability$/.test(lines[0]), lines[0]);
  assertEquals(lines.length, EXPECTED_PATHS.length + 1);
  assert(lines[1].startsWith(ONE), lines[1]);
});

Deno.test("predict: --weights loads the run's checkpoint (matches that network's export)", async () => {
  const f = await fx();
  const ours = await predict([f.run, ONE, PRED, "--weights", "--json", "--top", "3"]);
  assertEquals(ours.code, 0, ours.stderr);
  const ref = await predict([
    f["b.onnx"],
    ONE,
    PRED,
    "--json",
    "--top",
    "3",
    "--backend",
    "ort-node",
  ]);
  assertEquals(ref.code, 0, ref.stderr);
  const rows = JSON.parse(ours.stdout) as Row[];
  assertEquals(rows.length, EXPECTED_PATHS.length);
  assertSameRows(rows, JSON.parse(ref.stdout), "checkpoint vs its network's export");
  // …and the checkpoint mattered: without it the file's own weights give other numbers.
  const plain = JSON.parse((await predict([f.run, ONE, PRED, "--json", "--top", "3"])).stdout);
  assert(JSON.stringify(plain) !== JSON.stringify(rows), "--weights changed nothing");
});

Deno.test("predict: --weights with a checkpoint that fingerprints its frozen part takes it from the model file", async () => {
  const f = await fx();
  const args = ["--json", "--top", "3"];
  const ours = await predict([f.run_frozen, ONE, PRED, "--weights", ...args]);
  assertEquals(ours.code, 0, ours.stderr);
  const ref = await predict([f["mixed.onnx"], ONE, PRED, ...args, "--backend", "ort-node"]);
  assertEquals(ref.code, 0, ref.stderr);
  assertSameRows(JSON.parse(ours.stdout), JSON.parse(ref.stdout), "frozen conv + trained rest");
  const other = await predict([f.run_frozen_other, ONE, PRED, "--weights", ...args]);
  assertEquals(other.code, 2, other.stderr);
  assert(
    /does not fit .*: it was trained on other frozen weights \(sha256/.test(other.stderr),
    other.stderr,
  );
  assertEquals(other.stderr.trim().split("\n").length, 1, other.stderr);
});

Deno.test("predict: a checkpoint that does not fit the architecture is refused (exit 2)", async (t) => {
  const f = await fx();
  const onnx = `${f.run}/model.onnx`;
  const head = (ck: string) => `checkpoint ${ck} does not fit ${onnx}`;
  const cases: [string, string, string][] = [
    ["shape", "wide.ckpt", "0.weight has shape [8,3,3,3], the model expects [4,3,3,3]"],
    ["missing name", "no_running_var.ckpt", "it has no 1.running_var, the model expects [4]"],
    ["unexpected name", "deeper.ckpt", "7.weight [3,3] is not in the model"],
  ];
  for (const [name, file, what] of cases) {
    await t.step(name, async () => {
      const r = await predict([f[file], ONE, "--onnx", onnx]);
      assertRefused(r, `${head(f[file])}: ${what}`, false);
    });
  }
});
