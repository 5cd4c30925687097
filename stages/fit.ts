/**
 * One training run, epoch by epoch: train stream → evaluate → log → checkpoint → early
 * stopping. The data source is a function of the epoch, so a resumed run replays exactly
 * the batches the interrupted one would have seen; weights, optimizer state, every
 * generator, the step count and the logged history come back from the checkpoint.
 */
import { noGrad } from "../core/autograd.ts";
import type { Module } from "../core/nn/module.ts";
import { fromArray, type Tensor, tidy } from "../core/tensor.ts";
import type { EarlyStopping } from "../plugins/regularizers/early_stopping.ts";
import { loadCheckpoint, resolveCheckpoint, saveRunCheckpoint } from "./checkpoint.ts";
import { toDevice } from "./device.ts";
import { type EpochMetrics, evaluateStream, type HValue } from "./evaluate.ts";
import { ProgressWriter } from "./log/progress.ts";
import { logStage } from "./log/stage.ts";
import { type StepResult, trainStep } from "./train.ts";
import type { Batch } from "./types.ts";
import { UsageError } from "../pipeline.ts";

/** An optimizer as `fit` needs it (the plugins' `Optimizer` is one). */
export interface FitOptimizer {
  step(): void;
  zeroGrad(): void;
  lr: number;
  state(): Promise<unknown>;
  // deno-lint-ignore no-explicit-any
  loadState(s: any): void;
}

/** Something with a generator state to checkpoint (Dropout layers, samplers …). */
export interface Stateful {
  rngState(): number[];
  setRngState(s: number[]): void;
}

/** Options of `fit`. */
export interface FitOptions {
  run: string;
  runDir: string;
  csvPath: string;
  model: Module;
  loss: (out: Tensor, y: Tensor) => Tensor;
  optimizer: FitOptimizer;
  /** The training batches of an epoch (1-based), shuffled/augmented from its seed. */
  train: (epoch: number) => ReadableStream<Batch>;
  /** The evaluation batches (test or validation split). */
  test: () => ReadableStream<Batch>;
  /** Batches per training epoch, when known (for the progress line's ETA). */
  stepsPerEpoch?: number;
  classes: string[];
  epochs: number;
  hparams: Record<string, HValue>;
  earlyStopping?: EarlyStopping;
  /** Generators to checkpoint by name. */
  generators?: Record<string, Stateful>;
  /** A run folder or checkpoint to continue from. */
  resume?: string;
  /** Steps between loss readbacks (default 50). */
  readEvery?: number;
  /** Where the grid stands, for the ETA. */
  grid?: { epochsDone: number; epochs: number };
  progress?: ProgressWriter;
  /** Extra scalars for the early-stopping monitor, computed per epoch. */
  onEpoch?: (m: EpochMetrics) => void | Promise<void>;
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

/** Trains for the remaining epochs of a run and returns every epoch's record. */
export async function fit(o: FitOptions): Promise<EpochMetrics[]> {
  const progress = o.progress ?? new ProgressWriter();
  let history: EpochMetrics[] = [];
  let first = 1, step = 0;
  let best: Record<string, number> | undefined;
  if (o.resume) {
    const ck = await loadCheckpoint(await resolveCheckpoint(o.resume));
    o.model.loadStateDict(ck.weights);
    if (ck.optimizer) o.optimizer.loadState(ck.optimizer);
    for (const [k, g] of Object.entries(o.generators ?? {})) {
      if (ck.rng[k]) g.setRngState(ck.rng[k]);
    }
    const extra = (ck.extra ?? {}) as { history?: EpochMetrics[]; early?: unknown };
    history = extra.history ?? [];
    if (extra.early && o.earlyStopping) o.earlyStopping.setState(extra.early as never);
    first = ck.epoch + 1;
    step = ck.step;
    best = ck.best;
    progress.log(`${o.run}: resumed after epoch ${ck.epoch} (step ${step})`);
  }
  try {
    o.earlyStopping?.start(MONITORED, o.model);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const log = logStage({ runDir: o.runDir, csvPath: o.csvPath, classes: o.classes, history });
  const logWriter = log.writable.getWriter();
  const drained = log.readable.pipeTo(new WritableStream());
  const epochTimes: number[] = [];
  for (let epoch = first; epoch <= o.epochs; epoch++) {
    const t0 = performance.now();
    let last: StepResult | undefined;
    const state = (r: StepResult) => ({
      run: o.run,
      epoch,
      epochs: o.epochs,
      step: r.step - step,
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
    await o.train(epoch)
      .pipeThrough(toDevice())
      .pipeThrough(trainStep({
        model: o.model,
        loss: o.loss,
        optimizer: o.optimizer,
        epoch,
        firstStep: step,
        readEvery: o.readEvery,
      }))
      .pipeTo(
        new WritableStream({
          write(r) {
            last = r;
            progress.update(state(r));
          },
        }),
      );
    if (!last) throw new Error(`epoch ${epoch} had no training batches`);
    step = last.step;
    const trainImgsPerSec = last.images / last.seconds;
    o.model.eval();
    const test = await evaluateStream(o.test(), {
      forward: scoresOf(o.model),
      numClasses: o.classes.length,
    });
    o.model.train();
    const seconds = (performance.now() - t0) / 1000;
    epochTimes.push(seconds);
    const m: EpochMetrics = {
      run: o.run,
      epoch,
      step,
      train: { loss: last.loss, accuracy: last.accuracy, count: last.images },
      test,
      lr: o.optimizer.lr,
      durationSec: seconds,
      hparams: o.hparams,
    };
    await o.onEpoch?.(m);
    await logWriter.write(m);
    history.push(m);
    const f = figures(m);
    const isBest = !best || f.TestAccuracy > best.TestAccuracy;
    if (isBest) best = { epoch, ...f };
    const stop = o.earlyStopping?.update(f, o.model) ?? false;
    await saveRunCheckpoint(o.runDir, {
      weights: await o.model.stateDict(),
      optimizer: await o.optimizer.state(),
      epoch,
      step,
      rng: Object.fromEntries(
        Object.entries(o.generators ?? {}).map(([k, g]) => [k, g.rngState()]),
      ),
      classes: Object.fromEntries(o.classes.map((c, i) => [c, i])),
      hparams: o.hparams,
      best,
      extra: { history: history.map(slim), early: o.earlyStopping?.state() },
    }, isBest);
    progress.done(
      `${o.run}  epoch ${epoch}/${o.epochs}  train loss ${f.TrainLoss.toFixed(4)} ` +
        `acc ${(100 * f.TrainAccuracy).toFixed(2)}%  test loss ${f.TestLoss.toFixed(4)} ` +
        `acc ${(100 * f.TestAccuracy).toFixed(2)}%  ${trainImgsPerSec.toFixed(1)} img/s  ` +
        `${seconds.toFixed(1)}s`,
    );
    if (stop) {
      progress.log(`${o.run}: early stopping after epoch ${epoch} (best weights restored)`);
      break;
    }
  }
  await logWriter.close();
  await drained;
  return history;
}

/** An epoch record without its sample thumbnails' bulk, for the checkpoint's history. */
function slim(m: EpochMetrics): EpochMetrics {
  return { ...m, test: { ...m.test } };
}
