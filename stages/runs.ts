/**
 * What every training pipeline shares: the common flags (`--data`, `--epochs`, `--lr`,
 * `--batch-size`, `--weight-decay`, `--optimizer`, `--seed`, `--out`, `--resume`, `--grid`,
 * `--strict`, `--weights`) and the hyper-parameter grid loop — one run folder per
 * combination, all rows in one metrics.csv, the best N rows printed at the end.
 */
import { join } from "node:path";
import type { Options, OptionSpec } from "../pipeline.ts";
import { UsageError } from "../pipeline.ts";
import type { EpochMetrics, HValue } from "./evaluate.ts";
import { bestTable, expandGrid, type Grid, parseGrid, type Row } from "./grid.ts";
import { readCsv } from "./log/csv.ts";
import type { Tensor } from "../core/tensor.ts";
import "../plugins/optimizers/index.ts";
import type { Optimizer } from "../plugins/optimizers/chain.ts";
import { create } from "../plugins/registry.ts";

/** Defaults a pipeline gives the shared flags. */
export interface TrainingDefaults {
  data?: string;
  weights?: string;
  epochs: number;
  lr: number;
  batchSize: number;
  weightDecay?: number;
  optimizer?: string;
  seed?: number;
  out: string;
}

/** The shared flags, with a pipeline's defaults. */
export function trainingOptions(d: TrainingDefaults): Record<string, OptionSpec> {
  return {
    data: { type: "string", default: d.data, help: "data folder" },
    weights: { type: "string", default: d.weights, help: "pretrained weights (ONNX file)" },
    epochs: { type: "number", default: d.epochs, help: "epochs per run" },
    lr: { type: "number", default: d.lr, help: "learning rate" },
    batchSize: { type: "number", default: d.batchSize, help: "batch size" },
    weightDecay: { type: "number", default: d.weightDecay ?? 0, help: "weight decay (L2)" },
    optimizer: { type: "string", default: d.optimizer ?? "adam", help: "optimizer plugin name" },
    seed: { type: "number", default: d.seed ?? 0, help: "seed of every random choice" },
    out: { type: "string", default: d.out, help: "output folder (runs, metrics.csv)" },
    resume: { type: "string", help: "continue the run in this run folder" },
    grid: {
      type: "string",
      help: 'hyper-parameter grid: JSON, or "lr=3e-4,3e-5;batch_size=32,64"',
    },
    strict: { type: "boolean", default: false, help: "a bad image fails the run" },
  };
}

/** The camelCase option a grid key names (`batch_size`, `batch-size` → `batchSize`). */
export function optionKey(key: string): string {
  return key.replace(/[-_]([a-z])/g, (_, c) => c.toUpperCase());
}

/** The snake_case hyper-parameter name logged for an option (`batchSize` → `batch_size`). */
export function hparamName(key: string): string {
  return key.replace(/[A-Z]/g, (c) => "_" + c.toLowerCase());
}

/** Checks the basic ranges of the shared flags (exit code 2 on bad values). */
export function checkTraining(o: Options): void {
  const pos = (k: string, int: boolean) => {
    const v = o[k] as number;
    if (!(v > 0) || (int && !Number.isInteger(v))) {
      throw new UsageError(
        `--${hparamName(k).replace(/_/g, "-")} must be a positive ${
          int ? "whole number" : "number"
        }, got ${v}`,
      );
    }
  };
  pos("epochs", true);
  pos("lr", false);
  pos("batchSize", true);
  if (!((o.weightDecay as number) >= 0)) throw new UsageError(`--weight-decay must be ≥ 0`);
}

/** One run of a grid: its name, folder and options. */
export interface RunSpec {
  name: string;
  dir: string;
  csvPath: string;
  options: Options;
  hparams: Record<string, HValue>;
  /** Where the grid stands before this run, in epochs. */
  grid: { epochsDone: number; epochs: number };
}

/**
 * Expands `--grid` over the pipeline's options and runs `runOne` for each combination
 * (sequentially), then prints the best `top` rows of metrics.csv by test accuracy.
 * `tracked` are the option names logged as hyper-parameters.
 */
export async function runGrid(
  o: Options,
  tracked: string[],
  runOne: (r: RunSpec) => Promise<EpochMetrics[]>,
  top = 5,
): Promise<void> {
  const out = o.out as string;
  let grid: Grid = {};
  if (o.grid) {
    const text = String(o.grid).trim();
    grid = parseGrid(text.startsWith("{") ? JSON.parse(text) : text);
  }
  const known = new Set(Object.keys(o));
  for (const k of Object.keys(grid)) {
    if (!known.has(optionKey(k))) {
      throw new UsageError(`--grid: "${k}" is not an option of this pipeline`);
    }
  }
  const base: Record<string, HValue> = {};
  for (const k of tracked) base[hparamName(k)] = o[k] as HValue;
  // Keys as logged (snake_case) name the run folders: lr=0.001_batch_size=32.
  const runs = expandGrid(
    Object.fromEntries(Object.entries(grid).map(([k, v]) => [hparamName(optionKey(k)), v])),
    base,
  );
  if (o.resume && runs.length > 1) throw new UsageError("--resume continues one run, not a grid");
  const csvPath = join(out, "metrics.csv");
  const epochs = o.epochs as number;
  for (const [i, r] of runs.entries()) {
    const options: Options = { ...o };
    for (const [k, v] of Object.entries(r.params)) options[optionKey(k)] = v;
    const hparams = Object.fromEntries(
      tracked.map((k) => [hparamName(k), options[k] as HValue]),
    );
    const dir = o.resume ? String(o.resume) : join(out, r.name);
    await runOne({
      name: r.name,
      dir,
      csvPath,
      options,
      hparams,
      grid: { epochsDone: i * epochs, epochs: runs.length * epochs },
    });
  }
  const rows = await readCsv(csvPath).catch(() => [] as Row[]);
  if (rows.length) {
    const k = Math.min(top, rows.length);
    console.log(`\nbest ${k} row(s) by TestAccuracy, over ${runs.length} run(s):`);
    console.log(bestTable(rows as Row[], top, "TestAccuracy"));
    console.log(`metrics: ${csvPath}`);
  }
}

/**
 * The optimizer a run's options name (`--optimizer`, `--lr`, and `--weight-decay` as the
 * L2 regularizer C₀ + (λ/2)·Σw²) over named parameters.
 */
export function runOptimizer(params: [string, Tensor][], options: Options): Optimizer {
  const wd = (options.weightDecay as number | undefined) ?? 0;
  return create<Optimizer>("optimizer", options.optimizer as string, {
    params,
    lr: options.lr as number,
    regularizers: wd > 0 ? [{ name: "l2", lambda: wd }] : [],
  });
}
