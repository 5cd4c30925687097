/**
 * The command line's plugin choices, parsed and checked without a GPU: `name:opt=v` items
 * (joined by "," or, in a grid value, "+"), the regularizer short keys, stage points, the
 * logger set, `--plugin` flags, and what each choice makes.
 */
import { assert, assertEquals, assertThrows } from "../assert.ts";
import {
  choiceItems,
  earlyStoppingFactory,
  parseChoice,
  parseRegularizers,
  poolingFactory,
  regularizerSpecs,
} from "../../training/choices.ts";
import { parseLoggers, parseStages, runPlugins } from "../../training/run_plugins.ts";
import { takePluginFlags } from "../../training/plugin_files.ts";
import { register, unregister } from "../../plugins/registry.ts";
import { LpPool2d } from "../../plugins/pooling/lp.ts";
import { AvgPool2d } from "../../plugins/pooling/average.ts";
import { UsageError } from "../../training/pipeline.ts";

Deno.test("choices: items split at , and + (not at an exponent's +); options typed and camelCased", () => {
  assertEquals(choiceItems("l1=1e+5,clip=1.0+l2=2"), ["l1=1e+5", "clip=1.0", "l2=2"]);
  assertEquals(parseChoice("--pooling", "lp:p=3,ceil_mode=true,padding=same"), {
    name: "lp",
    options: { p: 3, ceilMode: true, padding: "same" },
  });
  assertEquals(parseChoice("--pooling", "max"), { name: "max", options: {} });
  assertEquals(parseChoice("--early-stopping", "patience=3+monitor=TestLoss", "early_stopping"), {
    name: "early_stopping",
    options: { patience: 3, monitor: "TestLoss" },
  });
  assertThrows(() => parseChoice("--pooling", "lp:p"), UsageError, "expected option=value");
});

Deno.test("choices: pooling by registry name or short name, the network's window under the options", () => {
  const lp = poolingFactory("lp:p=3")({ kernel: 3, stride: 3 });
  assert(lp instanceof LpPool2d);
  assertEquals(lp.options, { kernel: 3, stride: 3, p: 3 });
  const avg = poolingFactory("average:stride=1")({ kernel: 3, stride: 3 });
  assert(avg instanceof AvgPool2d);
  assertEquals(avg.options, { kernel: 3, stride: 1 });
  assertThrows(() => poolingFactory("median"), UsageError, "known: max (maxpool), average");
});

Deno.test("choices: regularizer short keys and named plugins, in order", () => {
  assertEquals(parseRegularizers("none"), []);
  assertEquals(
    regularizerSpecs("l1=1e-5,clip=1.0,weight_decay=0.01,l2:lambda=2,n=10"),
    [
      { name: "l1", lambda: 1e-5 },
      { name: "clip_grad_norm", maxNorm: 1 },
      { name: "weight_decay", weightDecay: 0.01 },
      { name: "l2", lambda: 2, n: 10 },
    ],
  );
  assertThrows(() => regularizerSpecs("lambda=1"), UsageError, "not a short key");
  assertThrows(() => regularizerSpecs("clip=-1"), UsageError, "maxNorm must be a number > 0");
  assertThrows(() => regularizerSpecs("dropout"), UsageError, `no regularizer plugin "dropout"`);
});

Deno.test("choices: early stopping's mode follows the metric; none is off", () => {
  assertEquals(earlyStoppingFactory("none"), undefined);
  const stop = earlyStoppingFactory("patience=2,monitor=TestAccuracy")!();
  assertEquals([stop.monitor, stop.mode, stop.patience], ["TestAccuracy", "max", 2]);
  stop.dispose();
  const loss = earlyStoppingFactory("patience=1")!();
  assertEquals([loss.monitor, loss.mode], ["TestLoss", "min"]);
  loss.dispose();
});

Deno.test("choices: stages at named points (after_ optional), joined by ; and made fresh", () => {
  register({
    kind: "stage",
    name: "probe_stage",
    options: ["k"],
    create: () => new TransformStream(),
  });
  try {
    const s = parseStages("probe_stage@batch:k=2; probe_stage@after_evaluate");
    assertEquals(s.map((c) => [c.name, c.point, c.options]), [
      ["probe_stage", "batch", { k: 2 }],
      ["probe_stage", "evaluate", {}],
    ]);
    const fields = runPlugins({ stage: "probe_stage@step;probe_stage@evaluate" });
    assertEquals([fields.stages?.step?.length, fields.stages?.evaluate?.length], [1, 1]);
    const [a, b] = [fields.stages!.step![0](), fields.stages!.step![0]()];
    assert(a !== b, "one stage per stream");
    assertThrows(() => parseStages("probe_stage@batch:j=1"), UsageError, `no option "j"`);
    assertThrows(() => parseStages("probe_stage@later"), UsageError, `no point "later"`);
  } finally {
    unregister("stage", "probe_stage");
  }
});

Deno.test("choices: --logger adds, removes and re-options loggers from the default set", () => {
  const names = (t?: string) => parseLoggers(t).map((c) => c.name);
  assertEquals(names(), ["tensorboard", "csv", "summary", "report"]);
  assertEquals(names("+jsonl;-tensorboard"), ["csv", "summary", "report", "jsonl"]);
  assertEquals(parseLoggers("report:thumbnails=false").at(-1), {
    name: "report",
    options: { thumbnails: false },
  });
  assertEquals(runPlugins({}).loggers, undefined);
  assertEquals(runPlugins({ logger: "-csv;-summary;-report;-tensorboard" }).loggers, []);
  assertThrows(() => parseLoggers("-jsonl"), UsageError, "not among this run's loggers");
});

Deno.test("--plugin flags are taken out of the arguments, in order", () => {
  assertEquals(
    takePluginFlags([
      "x.ts",
      "--plugin",
      "a.ts",
      "--epochs",
      "1",
      "--plugin=b.ts",
      "--",
      "--plugin",
    ]),
    { files: ["a.ts", "b.ts"], rest: ["x.ts", "--epochs", "1", "--", "--plugin"] },
  );
  assertThrows(() => takePluginFlags(["--plugin"]), UsageError, "needs a file or URL");
});
