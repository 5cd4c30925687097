/**
 * The flags every training pipeline shares, their range checks, and the names an option
 * has as a flag (`--batch-size`), a grid key and a logged hyper-parameter (`batch_size`).
 */
import type { Tensor } from "../core/tensor.ts";
import "../plugins/optimizers/index.ts";
import type { Optimizer } from "../plugins/optimizers/chain.ts";
import { create, names } from "../plugins/registry.ts";
import { flagOption, numberOption, type Options, stringOption, UsageError } from "./pipeline.ts";
import { POOLING_ALIASES, regularizerSpecs } from "./choices.ts";
import { checkChoices } from "./run_plugins.ts";

/** Defaults a pipeline gives the shared flags (`weights` only where the pipeline uses it). */
export interface TrainingDefaults {
  /** The data folder (`--data`). */
  data?: string;
  /** The pretrained ONNX weights (`--weights`); the flag exists only when given. */
  weights?: string;
  /** Epochs per run. */
  epochs: number;
  /** The learning rate. */
  lr: number;
  /** The batch size. */
  batchSize: number;
  /** Weight decay as L2 regularisation (default 0). */
  weightDecay?: number;
  /** The optimizer plugin's name (default "adam"). */
  optimizer?: string;
  /** The seed of every random choice (default 0). */
  seed?: number;
  /** The output folder; each invocation trains into a new `version_N` in it. */
  out: string;
}

/** The shared flags' specs (`weights` only where the pipeline gives it a default). */
export type TrainingSpecs<D extends TrainingDefaults> =
  & {
    data: { type: "string"; default: D["data"]; help: string };
    epochs: { type: "number"; default: number; help: string };
    lr: { type: "number"; default: number; help: string };
    batchSize: { type: "number"; default: number; help: string };
    weightDecay: { type: "number"; default: number; help: string };
    optimizer: { type: "string"; default: string; help: string };
    seed: { type: "number"; default: number; help: string };
    out: { type: "string"; default: string; help: string };
    resume: { type: "string"; default: undefined; help: string };
    grid: { type: "string"; default: undefined; help: string };
    strict: { type: "boolean"; default: false; help: string };
    noExif: { type: "boolean"; default: false; help: string };
    warmStart: { type: "string"; default: undefined; help: string };
    search: { type: "string"; default: undefined; help: string };
    trials: { type: "number"; default: undefined; help: string };
    prune: { type: "string"; default: undefined; help: string };
    study: { type: "string"; default: undefined; help: string };
    storage: { type: "string"; default: undefined; help: string };
    workers: { type: "number"; default: undefined; help: string };
    searchWorker: { type: "string"; default: undefined; help: string };
    regularizer: { type: "string"; default: string; help: string };
    earlyStopping: { type: "string"; default: string; help: string };
    stage: { type: "string"; default: undefined; help: string; multiple: true };
    logger: { type: "string"; default: undefined; help: string; multiple: true };
  }
  & (D extends { weights: string } ? { weights: { type: "string"; default: string; help: string } }
    : Record<never, never>);

/**
 * The shared flags, with a pipeline's defaults; spread them into `definePipeline`'s options.
 *
 * @example
 * options: { ...trainingOptions({ epochs: 5, lr: 1e-3, batchSize: 32, out: "runs/x" }) }
 */
export function trainingOptions<const D extends TrainingDefaults>(d: D): TrainingSpecs<D> {
  return {
    data: stringOption("data folder", d.data),
    ...(d.weights === undefined ? {} : {
      weights: stringOption("pretrained weights (ONNX file)", d.weights),
    }),
    epochs: numberOption("epochs per run", d.epochs),
    lr: numberOption("learning rate", d.lr),
    batchSize: numberOption("batch size", d.batchSize),
    weightDecay: numberOption("weight decay (L2)", d.weightDecay ?? 0),
    optimizer: stringOption("optimizer plugin name", d.optimizer ?? "adam"),
    seed: numberOption("seed of every random choice", d.seed ?? 0),
    out: stringOption("output folder: each invocation trains into a new version_N in it", d.out),
    resume: stringOption(
      "continue a run: its --out folder (every unfinished run of the latest version), " +
        "version folder, run folder or checkpoint",
    ),
    grid: stringOption('hyper-parameter grid: JSON, or "lr=3e-4,3e-5;batch_size=32,64"'),
    strict: flagOption("a bad image fails the run (exit 2)"),
    noExif: flagOption("ignore EXIF orientation (as torchvision's ImageFolder does)"),
    warmStart: stringOption(
      "start from this checkpoint's weights (they must fit the model; fresh optimizer)",
    ),
    // Hyper-parameter search (training/search/flags.ts checks them; unset: the grid).
    search: stringOption(
      "grid (default: every combination of --grid), random or tpe[:startup=10,candidates=24] " +
        '(--trials draws from --grid, e.g. "lr=loguniform(1e-5,1e-2);batch_size=32,64")',
    ),
    trials: numberOption("trials of a --search random/tpe study (default 20)"),
    prune: stringOption(
      "stop poor trials after an epoch: none (default), median[:warmup=0,min_trials=5] or " +
        "asha[:grace=1,eta=3], on the test accuracy",
    ),
    study: stringOption("the study's name: rerun to resume it, or join it (default: pipeline's)"),
    storage: stringOption(
      "the study's PostgreSQL URL, for workers on several machines (default <out>/study.sqlite)",
    ),
    workers: numberOption("worker processes of a study on this machine (default 1)"),
    searchWorker: stringOption("internal: set by --workers on the worker processes it starts"),
    // Plugins by name (training/choices.ts, run_plugins.ts check them before any GPU work).
    regularizer: stringOption(
      "gradient transforms before the optimizer, in order: l1=λ, l2=λ, clip=maxNorm, " +
        "weight_decay=λ (decoupled) or name[:opt=v] of any regularizer plugin, joined by , " +
        '(+ in a --grid value); e.g. "l1=1e-5,clip=1.0"',
      "none",
    ),
    earlyStopping: stringOption(
      "stop when a metric stops improving: patience=3,monitor=TestLoss[,mode=min,min_delta=0] " +
        "(or name:opt=v of a callback plugin)",
      "none",
    ),
    stage: {
      ...stringOption(
        "insert a stage plugin: name@point[:opt=v,…], points decode, augment, batch, step, " +
          "evaluate (repeatable)",
      ),
      multiple: true,
    },
    logger: {
      ...stringOption(
        "add (+name[:opt=v,…]) or remove (-name) a logger plugin (repeatable; default " +
          "tensorboard, csv, summary, report)",
      ),
      multiple: true,
    },
  } as unknown as TrainingSpecs<D>;
}

/**
 * The `--pooling` option of a pipeline whose network has a pooling slot: a pooling plugin
 * by name (or short name: max, average, lp) with options, `lp:p=3`; the network's window
 * (kernel, stride) fills in what is not given.
 *
 * @example
 * options: { ...trainingOptions({ … }), pooling: poolingOption("avgpool") }
 */
export function poolingOption<const D extends string>(
  dflt: D,
): { type: "string"; default: D; help: string } {
  const short = Object.entries(POOLING_ALIASES).map(([a, n]) => `${a}=${n}`).join(", ");
  return stringOption(
    `pooling plugin of the network: name[:opt=v,…] (${short}; e.g. lp:p=3); a grid key`,
    dflt,
  );
}

/** The camelCase option a grid key names (`batch_size`, `batch-size` → `batchSize`). */
export function optionKey(key: string): string {
  return key.replace(/[-_]([a-z])/g, (_, c) => c.toUpperCase());
}

/** The snake_case hyper-parameter name logged for an option (`batchSize` → `batch_size`). */
export function hparamName(key: string): string {
  return key.replace(/[A-Z]/g, (c) => "_" + c.toLowerCase());
}

/** The flag of an option (`batchSize` → `--batch-size`). */
export function flagName(key: string): string {
  return "--" + hparamName(key).replace(/_/g, "-");
}

/**
 * Requires `o[key]` to be a number in a range (exit code 2 otherwise).
 *
 * @example
 * checkNumber(o, "dropout", { min: 0, max: 1, maxOpen: true }); // 0 ≤ p < 1
 */
export function checkNumber(
  o: Options,
  key: string,
  r: { min?: number; max?: number; minOpen?: boolean; maxOpen?: boolean; int?: boolean },
): void {
  const v = o[key];
  const ok = typeof v === "number" && Number.isFinite(v) &&
    (r.min === undefined || (r.minOpen ? v > r.min : v >= r.min)) &&
    (r.max === undefined || (r.maxOpen ? v < r.max : v <= r.max)) &&
    (!r.int || Number.isInteger(v));
  if (ok) return;
  const lo = r.min === undefined ? "" : `${r.minOpen ? ">" : "≥"} ${r.min}`;
  const hi = r.max === undefined ? "" : `${r.maxOpen ? "<" : "≤"} ${r.max}`;
  const what = `${r.int ? "a whole number" : "a number"}${
    lo || hi ? " " + [lo, hi].filter(Boolean).join(" and ") : ""
  }`;
  throw new UsageError(`${flagName(key)} must be ${what}, got ${JSON.stringify(v)}`);
}

/** Checks the shared flags (exit code 2 on bad values), the optimizer's name included. */
export function checkTraining(o: Options): void {
  checkNumber(o, "epochs", { min: 0, minOpen: true, int: true });
  checkNumber(o, "lr", { min: 0, minOpen: true });
  checkNumber(o, "batchSize", { min: 0, minOpen: true, int: true });
  checkNumber(o, "weightDecay", { min: 0 });
  checkNumber(o, "seed", { min: 0, int: true });
  const known = names("optimizer");
  if (!known.some((n) => n.toLowerCase() === String(o.optimizer).toLowerCase())) {
    throw new UsageError(`--optimizer: no optimizer "${o.optimizer}"; known: ${known.join(", ")}`);
  }
  checkChoices(o);
}

/**
 * The optimizer a run's options name (`--optimizer`, `--lr`, `--regularizer`'s gradient
 * transforms in order, then `--weight-decay` as the L2 regularizer C₀ + (λ/2)·Σw²) over
 * named parameters.
 */
export function runOptimizer(params: [string, Tensor][], options: Options): Optimizer {
  const wd = (options.weightDecay as number | undefined) ?? 0;
  return create<Optimizer>("optimizer", options.optimizer as string, {
    params,
    lr: options.lr as number,
    regularizers: [
      ...regularizerSpecs(options.regularizer as string | undefined),
      ...(wd > 0 ? [{ name: "l2", lambda: wd }] : []),
    ],
  });
}
