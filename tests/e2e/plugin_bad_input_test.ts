/**
 * Bad plugin input — a `--plugin` file that is missing, throws on import, registers nothing
 * or takes a name that exists, and unknown plugin names, points and options in the choice
 * flags and the grid — is refused by every command with exit code 2 and one line (plus the
 * usage line), before any GPU work (`WEBGPU_TRAIN_NO_GPU=1` makes a GPU start an error) and
 * before anything is written.
 */
import { pathToFileURL } from "node:url";
import { assert, assertEquals } from "../assert.ts";
import { ROOT, run, TINY } from "./_cli.ts";
import { tempDir } from "../_temp.ts";

const NO_GPU = { WEBGPU_TRAIN_NO_GPU: "1" };
const JPEG = `${ROOT}fixtures/intel/seg_train/seg_train/buildings/1.jpg`;

/** Plugin files of every kind of mistake, and one good stage file, in a temporary folder. */
async function pluginFiles(): Promise<Record<string, string>> {
  const dir = await tempDir("bad_plugins_");
  const registry = pathToFileURL(`${ROOT}plugins/registry.ts`).href;
  const files: Record<string, string> = {
    nothing: "export const x = 1;\n",
    throws: 'throw new Error("cannot start: no licence key");\n',
    syntax: "export const = ;\n",
    missingImport: 'import "./no_such_module.ts";\n',
    builtinName: `import { register } from "${registry}";
register({ kind: "pooling", name: "MaxPool", create: () => 0 });\n`,
    twice: `import { register } from "${registry}";
register({ kind: "stage", name: "twice", create: () => new TransformStream() });
register({ kind: "stage", name: "twice", create: () => new TransformStream() });\n`,
    stage: `import { register } from "${registry}";
register({
  kind: "stage",
  name: "scale",
  options: ["by"],
  check: ({ by }) => { if (typeof by !== "number") throw new Error("by must be a number"); },
  create: () => new TransformStream(),
});\n`,
  };
  const out: Record<string, string> = {};
  for (const [k, text] of Object.entries(files)) {
    out[k] = `${dir}/${k}.ts`;
    await Deno.writeTextFile(out[k], text);
  }
  return out;
}

type Case = [what: string, script: string, args: string[], message: RegExp];

function cases(f: Record<string, string>, out: string): Case[] {
  const t = (what: string, args: string[], m: RegExp): Case => [
    what,
    "cli.ts",
    [TINY, "--out", out, ...args],
    m,
  ];
  const cnn = (what: string, args: string[], m: RegExp): Case => [
    what,
    "cli.ts",
    ["custom_cnn.ts", "--out", out, ...args],
    m,
  ];
  return [
    t(
      "missing file",
      ["--plugin", "./no/such/plugin.ts"],
      /--plugin \.\/no\/such\/plugin\.ts: no such file/,
    ),
    t("no value", ["--plugin"], /--plugin needs a file or URL/),
    t("registers nothing", ["--plugin", f.nothing], /nothing\.ts registers no plugin/),
    t("throws on import", ["--plugin", f.throws], /throws\.ts: cannot start: no licence key/),
    t("syntax error", ["--plugin", f.syntax], /syntax\.ts: .*(Syntax|Expected)/i),
    t("missing import", ["--plugin", f.missingImport], /missingImport\.ts: .*no_such_module/),
    t(
      "a built-in name",
      ["--plugin", f.builtinName],
      /builtinName\.ts: a pooling plugin named "MaxPool" is already registered/,
    ),
    t("a name twice", ["--plugin", f.twice], /twice\.ts: a stage plugin named "twice" is already/),
    t("bad plugin before --help", ["--plugin", f.nothing, "--help"], /registers no plugin/),
    t(
      "unknown pooling",
      ["--pooling", "median"],
      /--pooling: no pooling plugin "median"; known: max \(maxpool\), average \(avgpool\), lp \(lppool\), .*maxpool/,
    ),
    t("pooling option", ["--pooling", "lp:q=3"], /"lppool" has no option "q"; its options: .*p/),
    t("pooling value", ["--pooling", "lp:p=0"], /"lppool": p must be a number ≥ 1, got 0/),
    t("pooling window", ["--pooling", "max:kernel=0"], /"maxpool": .*kernel/),
    t("pooling syntax", ["--pooling", "lp:p"], /--pooling: expected option=value, got "p"/),
    t(
      "grid pooling",
      ["--grid", "pooling=max,median"],
      /--grid run pooling=median: --pooling: no pooling plugin "median"/,
    ),
    t(
      "unknown short key",
      ["--regularizer", "l3=1"],
      /"l3" is not a short key \(l1, l2, clip, weight_decay\)/,
    ),
    t(
      "unknown regularizer",
      ["--regularizer", "nosuch:x=1"],
      /no regularizer plugin "nosuch"; known: clip_grad_norm, l1, l2, weight_decay/,
    ),
    t("regularizer value", ["--regularizer", "l1=-1"], /"l1": lambda must be a number ≥ 0, got -1/),
    t(
      "regularizer option",
      ["--regularizer", "clip_grad_norm:max_norm=2,foo=1"],
      /"clip_grad_norm" has no option "foo"; its options: maxNorm/,
    ),
    t(
      "grid regularizer",
      ["--grid", "regularizer=none,clip=0"],
      /--grid run regularizer=clip=0: .*maxNorm must be a number > 0/,
    ),
    t(
      "early stopping value",
      ["--early-stopping", "patience=-1"],
      /"early_stopping": patience must be a whole number ≥ 0/,
    ),
    t(
      "early stopping metric",
      ["--early-stopping", "monitor=F1"],
      /monitor F1: known metrics are TrainLoss, /,
    ),
    t(
      "early stopping option",
      ["--early-stopping", "patience=2,colour=red"],
      /"early_stopping" has no option "colour"/,
    ),
    t(
      "unknown callback",
      ["--early-stopping", "nosuch:x=1"],
      /no callback plugin "nosuch"; known: early_stopping/,
    ),
    t(
      "stage without point",
      ["--stage", "scale"],
      /--stage scale: expected name@point\[:options\]/,
    ),
    t(
      "unknown point",
      ["--plugin", f.stage, "--stage", "scale@nowhere:by=2"],
      /no point "nowhere"; points: decode, augment, batch, step, evaluate/,
    ),
    t(
      "unknown stage",
      ["--stage", "nosuch@batch"],
      /--stage: no stage plugin "nosuch"; known: none registered/,
    ),
    t(
      "stage option",
      ["--plugin", f.stage, "--stage", "scale@batch:times=2"],
      /"scale" has no option "times"; its options: by/,
    ),
    t(
      "stage check",
      ["--plugin", f.stage, "--stage", "scale@batch:by=x"],
      /stage plugin "scale": by must be a number/,
    ),
    t(
      "unknown logger",
      ["--logger", "+nosuch"],
      /--logger: no logger plugin "nosuch"; known: csv, jsonl, report, summary, tensorboard/,
    ),
    t(
      "removing a logger not there",
      ["--logger", "-jsonl"],
      /"jsonl" is not among this run's loggers \(tensorboard, csv, summary, report\)/,
    ),
    t(
      "logger option",
      ["--logger", "+jsonl:file=x"],
      /"jsonl" has no option "file"; its options: path/,
    ),
    cnn("custom_cnn: unknown pooling", ["--pooling", "median"], /no pooling plugin "median"/),
    cnn(
      "custom_cnn: grid pooling",
      ["--grid", "pooling=max,lp:p=0.5,average"],
      /pooling=lp-p=0\.5: --pooling: .*p must be a number ≥ 1/,
    ),
    ["fashion: augment point", "cli.ts", [
      "fashion_mnist.ts",
      "--plugin",
      f.stage,
      "--stage",
      "scale@augment:by=2",
    ], /fashion_mnist has no augmentation/],
    ["intel: augment point with --no-augment", "cli.ts", [
      "intel.ts",
      "--out",
      out,
      "--plugin",
      f.stage,
      "--no-augment",
      "--stage",
      "scale@augment:by=2",
    ], /--no-augment is set/],
    ["retrain: bad plugin", "retrain.ts", [
      "custom_cnn.ts",
      "--registry",
      `${out}/r`,
      "--plugin",
      f.throws,
    ], /throws\.ts: cannot start/],
    ["retrain: plugin first", "retrain.ts", [
      "--plugin",
      f.nothing,
      "custom_cnn.ts",
      "--registry",
      `${out}/r`,
    ], /registers no plugin/],
    ["retrain: unknown pooling", "retrain.ts", [
      "custom_cnn.ts",
      "--registry",
      `${out}/r`,
      "--pooling",
      "x",
    ], /no pooling plugin "x"/],
    [
      "predict: missing plugin",
      "predict.ts",
      ["--plugin", "/no/such.ts", "m.onnx", JPEG],
      /--plugin \/no\/such\.ts: no such file/,
    ],
    [
      "predict: a built-in name",
      "predict.ts",
      ["m.onnx", JPEG, "--plugin", f.builtinName],
      /already registered/,
    ],
  ];
}

Deno.test("bad plugin files, names, points and options exit 2 with one line, before any GPU work", async (t) => {
  const f = await pluginFiles();
  const out = `${await tempDir("plugin_bad_")}/out`;
  for (const [what, script, args, message] of cases(f, out)) {
    await t.step(what, async () => {
      const r = await run(script, args, NO_GPU);
      const lines = r.err.trim().split("\n");
      assertEquals(r.code, 2, `${what}: exit ${r.code}\n${r.err}`);
      assert(message.test(lines[0]), `${what}: first line "${lines[0]}" lacks ${message}`);
      assert(lines.length <= 2 && /usage/.test(lines.at(-1)!), `${what}: ${r.err}`);
      assert(!/^\s+at /m.test(r.err), `${what}: stack trace\n${r.err}`);
    });
  }
  // Refused before anything was written.
  assert(!(await Deno.stat(out).then(() => true, () => false)), `${out} was made`);
  for (const left of ["runs/tiny", "runs/custom_cnn", "runs/intel", "runs/fashion_mnist"]) {
    assert(!(await Deno.stat(`${ROOT}${left}`).then(() => true, () => false)), `${left} made`);
  }
});
