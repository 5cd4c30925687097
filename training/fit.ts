/**
 * One training run, epoch by epoch: train stream → evaluate → log → checkpoint → early
 * stopping. The data source is a function of the epoch, so a resumed run replays exactly
 * the batches the interrupted one would have seen; weights, optimizer state, every
 * generator the model registers (and any given here), the step count, the logged history
 * and early stopping's kept weights come back from the checkpoint. A SIGINT/SIGTERM stop
 * (`interrupt`) ends the epoch after the current step and writes a mid-epoch checkpoint
 * that resumes at the next batch.
 *
 * A study's trial (`trial`) reports every epoch after it is logged and checkpointed, and
 * a "prune" verdict ends the run there, its logs kept (as early stopping ends one); a
 * resumed trial first reports the epochs its checkpoint restored.
 *
 * Test hook: `WEBGPU_TRAIN_BLOCK_AFTER_STEP=N` (or `RUN@N` for one run of a grid) makes
 * the run print a line and wait after its step N until it is interrupted or killed, so
 * tests stop it at a known point.
 */
import { noGrad } from "../core/autograd.ts";
import type { Module, StateDict, Stateful } from "../core/nn/module.ts";
import { fromArray, type Tensor, tidy } from "../core/tensor.ts";
import type { EarlyStopping } from "../plugins/callbacks/early_stopping.ts";
import { loadCheckpoint, resolveCheckpoint, saveRunCheckpoint } from "./checkpoint.ts";
import { type FrozenPrint, frozenPrint, loadTrained, trainedState } from "./frozen.ts";
import { toDevice } from "../stages/device.ts";
import { type EpochMetrics, evaluateStream, type HValue } from "../stages/evaluate.ts";
import { ProgressWriter } from "../stages/log/progress.ts";
import { logStage } from "../stages/log/stage.ts";
import type { Logger } from "../stages/log/loggers.ts";
import type { StageMaker } from "../stages/image_data.ts";
import { type StepResult, trainStep } from "../stages/train.ts";
import type { Batch } from "../stages/types.ts";
import { UsageError } from "./pipeline.ts";
import { bestEpoch } from "../stages/log/summary.ts";
import { type Interrupt, InterruptedError } from "./interrupt.ts";

/** An optimizer as `fit` needs it (the plugins' `Optimizer` is one). */
export interface FitOptimizer {
  /** Applies one update from the parameters' gradients. */
  step(): void;
  /** Zeroes the gradients. */
  zeroGrad(): void;
  /** The learning rate (logged each epoch). */
  lr: number;
  /** The optimizer's state, for checkpoints. */
  state(): Promise<unknown>;
  /** Restores a state `state()` gave. */
  // deno-lint-ignore no-explicit-any
  loadState(s: any): void;
}

export type { Stateful };

/** A study's trial as `fit` sees it (training/search/worker.ts makes one). */
export interface TrialReporter {
  /** Reports an epoch (logged and checkpointed already); "prune" ends the run after it. */
  report(m: EpochMetrics): Promise<"continue" | "prune">;
}

/** Options of `fit`. */
export interface FitOptions {
  /** The run's name (its folder's name, the CSV's `run` column). */
  run: string;
  /** The run's folder: checkpoints, logs, summary, report. */
  runDir: string;
  /** The metrics.csv the run appends its epochs to. */
  csvPath: string;
  /** The model trained (its parameters, buffers and generators are checkpointed). */
  model: Module;
  /** The loss of a batch: the model's output and the labels → a scalar. */
  loss: (out: Tensor, y: Tensor) => Tensor;
  /** The optimizer over the model's trainable parameters. */
  optimizer: FitOptimizer;
  /** The training batches of an epoch (1-based), shuffled/augmented from its seed. */
  train: (epoch: number) => ReadableStream<Batch>;
  /** The evaluation batches (test or validation split). */
  test: () => ReadableStream<Batch>;
  /** Batches per training epoch, when known (for the progress line's ETA). */
  stepsPerEpoch?: number;
  /** Class names by label index (confusion matrix, report). */
  classes: string[];
  /** Epochs to train (a resumed run continues up to it). */
  epochs: number;
  /** The hyper-parameters logged with the run (CSV columns, TensorBoard's HParams). */
  hparams: Record<string, HValue>;
  /**
   * Stops the run when the monitored metric stops improving; keeps the best weights. A
   * function makes it for the run (`fit` disposes of it at the end).
   */
  earlyStopping?: EarlyStopping | (() => EarlyStopping);
  /** What writes the run's logs (default: the event file, metrics.csv, summary.json, report). */
  loggers?: Logger[];
  /** Stages inserted at the train step's results and after evaluation (`--stage`). */
  stages?: FitStages;
  /** Generators to checkpoint besides those the model registers (`namedGenerators`). */
  generators?: Record<string, Stateful>;
  /** A stop request (SIGINT/SIGTERM): checkpoint after the current step and throw. */
  interrupt?: Interrupt;
  /** A run folder or checkpoint to continue from. */
  resume?: string;
  /** A checkpoint whose weights start a new run (warm start; ignored when resuming). */
  init?: string;
  /** Steps between loss readbacks (default 50). */
  readEvery?: number;
  /** Where the grid stands, for the ETA. */
  grid?: { epochsDone: number; epochs: number };
  /** Where the progress line goes (default: the terminal). */
  progress?: ProgressWriter;
  /** Called with each epoch's metrics before they are logged (it may amend them). */
  onEpoch?: (m: EpochMetrics) => void | Promise<void>;
  /** The study trial this run is: told every epoch, it may prune the run. */
  trial?: TrialReporter;
}

/**
 * Stages `fit` inserts: after the train step (its `StepResult`s, every `readEvery` steps and
 * at the epoch's end) and after evaluation (the epoch's record, before it is logged; a
 * stage there must pass exactly one record on). One stage is made per epoch.
 */
export interface FitStages {
  /** At the train step's results. */
  step?: StageMaker<StepResult>[];
  /** After evaluation. */
  evaluate?: StageMaker<EpochMetrics>[];
}

/** The names early stopping and the best-epoch choice can monitor. */
export const MONITORED = ["TrainLoss", "TrainAccuracy", "TestLoss", "TestAccuracy"];

function figures(m: EpochMetrics): Record<string, number> {
  return {
    TrainLoss: m.train.loss,
    TrainAccuracy: m.train.accuracy,
    TestLoss: m.test.loss,
    TestAccuracy: m.test.accuracy,
  };
}

/** Runs the model on a batch in eval mode without gradients and reads the scores back. */
export function scoresOf(model: Module): (b: Batch) => Promise<Float32Array> {
  return async (b) => {
    const out = noGrad(() => tidy(() => model.forward(fromArray(b.x, b.shape))));
    const data = await out.data();
    out.dispose();
    return data;
  };
}

/** What a checkpoint's `extra` holds for `fit`. */
interface FitExtra {
  history?: EpochMetrics[];
  early?: unknown;
  /** Early stopping's kept best weights. */
  earlyWeights?: StateDict | null;
  /** Early stopping ended the run. */
  stopped?: boolean;
  /** Set when the checkpoint was written mid-epoch (SIGINT/SIGTERM). */
  partial?: { epoch: number; steps: number; stats: number[] };
}

function sameHparams(a: Record<string, HValue>, b: Record<string, HValue>): boolean {
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])];
  return keys.every((k) => a[k] === b[k]);
}

/** Drops the first `n` batches of a stream (a run resumed mid-epoch skips what it trained). */
function dropFirst(n: number): TransformStream<Batch, Batch> {
  let seen = 0;
  return new TransformStream({
    transform(b, c) {
      if (seen++ >= n) c.enqueue(b);
    },
  });
}

const BLOCK = /^(?:(.+)@)?(\d+)$/.exec(Deno.env.get("WEBGPU_TRAIN_BLOCK_AFTER_STEP") ?? "");

/** The epoch's record through the stages after evaluation. */
async function afterEvaluate(m: EpochMetrics, makers: StageMaker<EpochMetrics>[] = []) {
  if (!makers.length) return m;
  let s = ReadableStream.from([m]);
  for (const make of makers) s = s.pipeThrough(make());
  const out: EpochMetrics[] = [];
  for await (const x of s) out.push(x);
  if (out.length !== 1) {
    throw new Error(
      `the stages after evaluate gave ${out.length} records for epoch ${m.epoch}; ` +
        "a stage there must pass exactly one on",
    );
  }
  return out[0];
}

/** Trains for the remaining epochs of a run and returns every epoch's record. */
export async function fit(o: FitOptions): Promise<EpochMetrics[]> {
  if (typeof o.earlyStopping !== "function") return await fitRun(o, o.earlyStopping);
  const early = o.earlyStopping();
  try {
    return await fitRun(o, early);
  } finally {
    early.dispose();
  }
}

async function fitRun(o: FitOptions, early?: EarlyStopping): Promise<EpochMetrics[]> {
  const progress = o.progress ?? new ProgressWriter();
  const generators: Record<string, Stateful> = {
    ...Object.fromEntries(o.model.namedGenerators().map(([n, g]) => [`model.${n}`, g])),
    ...o.generators,
  };
  let history: EpochMetrics[] = [];
  let first = 1, step = 0;
  let partial: FitExtra["partial"];
  try {
    early?.start(MONITORED, o.model);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  if (o.init && !o.resume) {
    const ck = await loadCheckpoint(o.init).catch((e) => {
      throw new UsageError(`--warm-start: ${(e as Error).message}`);
    });
    await loadTrained(o.model, ck, `--warm-start ${o.init} does not fit this model`);
    progress.log(`${o.run}: weights from ${o.init} (epoch ${ck.epoch})`);
  }
  if (o.resume) {
    const ck = await loadCheckpoint(await resolveCheckpoint(o.resume)).catch((e) => {
      throw new UsageError(`--resume: ${(e as Error).message}`);
    });
    if (!sameHparams(ck.hparams, o.hparams)) {
      throw new UsageError(
        `${o.resume} was trained with ${JSON.stringify(ck.hparams)}, not ${
          JSON.stringify(o.hparams)
        }`,
      );
    }
    await loadTrained(o.model, ck, `${o.resume} does not fit this model`);
    if (ck.optimizer) o.optimizer.loadState(ck.optimizer);
    for (const [k, g] of Object.entries(generators)) {
      if (!ck.rng[k]) throw new UsageError(`${o.resume} has no state for generator ${k}`);
      g.setRngState(ck.rng[k]);
    }
    const extra = (ck.extra ?? {}) as FitExtra;
    history = extra.history ?? [];
    if (extra.early && early) {
      early.setState(extra.early as never);
      early.setKeptWeights(extra.earlyWeights ?? null);
    }
    first = ck.epoch + 1;
    step = ck.step;
    partial = extra.partial?.epoch === first ? extra.partial : undefined;
    progress.log(
      `${o.run}: resumed after epoch ${ck.epoch}` +
        (partial ? ` and ${partial.steps} step(s) of epoch ${first}` : "") + ` (step ${step})`,
    );
    if (extra.stopped) {
      progress.log(`${o.run}: early stopping had ended this run; nothing to do`);
      return history;
    }
  }
  const log = logStage({
    runDir: o.runDir,
    csvPath: o.csvPath,
    classes: o.classes,
    history,
    hparams: o.hparams,
    run: o.run,
    loggers: o.loggers,
  });
  const logWriter = log.writable.getWriter();
  const drained = log.readable.pipeTo(new WritableStream());
  // Frozen parameters do not change: fingerprinted once, left out of every checkpoint.
  let frozen: Promise<FrozenPrint | undefined> | undefined;
  const checkpoint = async (epoch: number, extra: Partial<FitExtra>, isBest: boolean) => {
    const best = history.length ? bestEpoch(history) : undefined;
    await saveRunCheckpoint(o.runDir, {
      weights: await trainedState(o.model),
      frozen: await (frozen ??= frozenPrint(o.model)),
      optimizer: await o.optimizer.state(),
      epoch,
      step,
      rng: Object.fromEntries(Object.entries(generators).map(([k, g]) => [k, g.rngState()])),
      classes: Object.fromEntries(o.classes.map((c, i) => [c, i])),
      hparams: o.hparams,
      best: best ? { epoch: best.epoch, ...figures(best) } : undefined,
      extra: {
        history: history.map(slim),
        early: early?.state(),
        earlyWeights: await early?.keptWeights(),
        ...extra,
      },
    }, isBest);
  };
  const interrupted = (where: string) =>
    new InterruptedError(
      o.interrupt!.signal!,
      `${o.run}: interrupted by ${o.interrupt!.signal} ${where}; checkpoint ${o.runDir}/last.ckpt`,
    );
  const epochTimes: number[] = [];
  let pruned = false;
  const prune = async (m: EpochMetrics) => {
    if (!o.trial || (await o.trial.report(m)) !== "prune") return false;
    progress.log(`${o.run}: pruned after epoch ${m.epoch} (the study's pruner)`);
    return true;
  };
  try {
    // A resumed trial's restored epochs are reported again (a re-queued trial has none).
    for (const m of o.trial ? history : []) if ((pruned = await prune(m))) break;
    for (let epoch = first; !pruned && epoch <= o.epochs; epoch++) {
      const t0 = performance.now();
      let last: StepResult | undefined;
      const skip = partial?.epoch === epoch ? partial.steps : 0;
      const state = (r: StepResult) => ({
        run: o.run,
        epoch,
        epochs: o.epochs,
        step: r.step - step + skip,
        steps: o.stepsPerEpoch ?? 0,
        images: r.images,
        elapsedSec: r.seconds,
        loss: r.loss,
        gridEpochsDone: o.grid ? o.grid.epochsDone + epoch - 1 : undefined,
        gridEpochs: o.grid?.epochs,
        meanEpochSec: epochTimes.length
          ? epochTimes.reduce((a, b) => a + b) / epochTimes.length
          : undefined,
      });
      const stepsBefore = step - skip;
      let results = o.train(epoch)
        .pipeThrough(dropFirst(skip))
        .pipeThrough(toDevice())
        .pipeThrough(trainStep({
          model: o.model,
          loss: o.loss,
          optimizer: o.optimizer,
          epoch,
          firstStep: step,
          readEvery: o.readEvery,
          stats: skip ? partial!.stats : undefined,
          stop: () => o.interrupt?.requested ?? false,
          afterStep: async (s) => {
            if (!BLOCK || s !== Number(BLOCK[2]) || (BLOCK[1] && BLOCK[1] !== o.run)) return;
            progress.log(`${o.run}: test hook: blocking after step ${s}`);
            await (o.interrupt?.wait() ?? new Promise<void>(() => {}));
          },
        }));
      for (const make of o.stages?.step ?? []) results = results.pipeThrough(make());
      await results
        .pipeTo(
          new WritableStream({
            write(r) {
              last = r;
              progress.update(state(r));
              return log.stepLoss(r.step, r.loss);
            },
          }),
        );
      if (!last) throw new Error(`epoch ${epoch} had no training batches`);
      step = last.step;
      if (last.interrupted) {
        await checkpoint(epoch - 1, {
          partial: { epoch, steps: step - stepsBefore, stats: last.stats },
        }, false);
        throw interrupted(`in epoch ${epoch} after step ${step}`);
      }
      partial = undefined;
      const trainImgsPerSec = last.images / last.seconds;
      o.model.eval();
      const test = await evaluateStream(o.test(), {
        forward: scoresOf(o.model),
        numClasses: o.classes.length,
      });
      o.model.train();
      const seconds = (performance.now() - t0) / 1000;
      epochTimes.push(seconds);
      let m: EpochMetrics = {
        run: o.run,
        epoch,
        step,
        train: { loss: last.loss, accuracy: last.accuracy, count: last.images },
        test,
        lr: o.optimizer.lr,
        durationSec: seconds,
        hparams: o.hparams,
      };
      m = await afterEvaluate(m, o.stages?.evaluate);
      await o.onEpoch?.(m);
      await logWriter.write(m);
      history.push(m);
      const f = figures(m);
      const stop = early?.update(f, o.model) ?? false;
      await checkpoint(epoch, { stopped: stop }, bestEpoch(history).epoch === epoch);
      progress.done(
        `${o.run}  epoch ${epoch}/${o.epochs}  train loss ${f.TrainLoss.toFixed(4)} ` +
          `acc ${(100 * f.TrainAccuracy).toFixed(2)}%  test loss ${f.TestLoss.toFixed(4)} ` +
          `acc ${(100 * f.TestAccuracy).toFixed(2)}%  ${trainImgsPerSec.toFixed(1)} img/s  ` +
          `${seconds.toFixed(1)}s`,
      );
      if ((pruned = await prune(m))) break;
      if (stop) {
        progress.log(`${o.run}: early stopping after epoch ${epoch} (best weights restored)`);
        break;
      }
      if (o.interrupt?.requested && epoch < o.epochs) throw interrupted(`after epoch ${epoch}`);
    }
    // Reached when the run completed, early stopping or the pruner ended it, never on an
    // interruption.
    await log.end();
  } finally {
    await logWriter.close().catch(() => {});
    await drained.catch(() => {});
  }
  return history;
}

/** An epoch record without its sample thumbnails' bulk, for the checkpoint's history. */
function slim(m: EpochMetrics): EpochMetrics {
  return { ...m, test: { ...m.test } };
}
