/**
 * The train-step stage: consumes device batches and, for each, runs forward, loss,
 * backward and the optimizer on the GPU in train mode, all recorded in one `tidy` (one submit
 * on a real GPU; core/gpu_submit.ts).
 * Loss and accuracy accumulate on the GPU and are read back only every `readEvery` steps
 * and at the end of the epoch; a non-finite loss stops the run with the epoch, the step
 * and a hint.
 */
import { backward } from "../core/autograd.ts";
import type { Module } from "../core/nn/module.ts";
import { accumulateStats, statsAccumulator } from "../core/ops/accuracy.ts";
import { type Tensor, tidy } from "../core/tensor.ts";
import { TrainingError } from "../core/errors.ts";
import { type DeviceBatch, disposeDeviceBatch } from "./device.ts";

/** What the optimizer must offer the train step. */
export interface StepOptimizer {
  /** Applies one update from the parameters' current gradients. */
  step(): void;
  /** Clears the gradients, ready for the next step's backward. */
  zeroGrad(): void;
}

/** Options of `trainStep`. */
export interface TrainStepOptions {
  /** The network; switched to train mode when the stage starts. */
  model: Module;
  /** The loss of the model's output against class indices (e.g. `nll` after LogSoftmax). */
  loss: (out: Tensor, y: Tensor) => Tensor;
  /** Steps once per batch, then clears the gradients. */
  optimizer: StepOptimizer;
  /** The epoch number (1-based in `fit`), quoted in results and in the divergence error. */
  epoch: number;
  /** Steps between readbacks of the running loss (default 50). */
  readEvery?: number;
  /** The step number the epoch starts at (a resumed run continues its count). */
  firstStep?: number;
  /** The epoch's running sums so far `[loss·n, correct, n]` (a run resumed mid-epoch). */
  stats?: number[];
  /** Asked after every step: true ends the epoch there with an `interrupted` result. */
  stop?: () => boolean;
  /** Awaited after every step with the step number (test hooks, callbacks). */
  afterStep?: (step: number) => Promise<void> | void;
}

/** Emitted every `readEvery` steps and once at the end of the epoch (`final`). */
export interface StepResult {
  /** The epoch the result belongs to (`TrainStepOptions.epoch`). */
  epoch: number;
  /** Steps done in this epoch. */
  step: number;
  /** Images seen in this epoch. */
  images: number;
  /** Mean training loss and accuracy over the epoch so far. */
  loss: number;
  /** Fraction in [0, 1] of this epoch's images classified right so far (NaN before any). */
  accuracy: number;
  /** Wall-clock seconds since `trainStep()` made this stage. */
  seconds: number;
  /** The epoch's last result (also true when `stop()` cut it short). */
  final: boolean;
  /** The epoch was cut short by `stop()` (the run resumes from here). */
  interrupted?: boolean;
  /** The running sums `[loss·n, correct, n]` as read back. */
  stats: number[];
}

/**
 * A TransformStream from device batches to periodic StepResults.
 *
 * @example
 * await batches.pipeThrough(toDevice()).pipeThrough(trainStep({ model, loss: nll, optimizer, epoch }))
 *   .pipeTo(new WritableStream({ write: (r) => console.log(r.loss) }));
 */
export function trainStep(o: TrainStepOptions): TransformStream<DeviceBatch, StepResult> {
  const readEvery = o.readEvery ?? 50;
  let acc: Tensor | null = null;
  let step = o.firstStep ?? 0;
  const t0 = performance.now();
  async function report(final: boolean, interrupted = false): Promise<StepResult> {
    const [lossSum, right, n] = await acc!.data();
    const r: StepResult = {
      stats: [lossSum, right, n],
      interrupted,
      epoch: o.epoch,
      step,
      images: n,
      loss: n ? lossSum / n : NaN,
      accuracy: n ? right / n : NaN,
      seconds: (performance.now() - t0) / 1000,
      final,
    };
    if (n && !Number.isFinite(r.loss)) {
      throw new TrainingError(
        `loss became ${r.loss} in epoch ${o.epoch} by step ${step}: lower the learning rate ` +
          `(--lr), check the input normalisation, or add gradient clipping`,
      );
    }
    return r;
  }
  return new TransformStream({
    start() {
      acc = statsAccumulator(o.stats);
      o.model.train();
    },
    async transform(b, c) {
      tidy(() => {
        const out = o.model.forward(b.x);
        const l = o.loss(out, b.y);
        backward(l);
        o.optimizer.step();
        o.optimizer.zeroGrad();
        accumulateStats(acc!, l, out, b.y);
      });
      disposeDeviceBatch(b);
      step++;
      await o.afterStep?.(step);
      if (o.stop?.()) {
        c.enqueue(await report(true, true));
        acc!.dispose();
        acc = null;
        c.terminate();
        return;
      }
      if (step % readEvery === 0) c.enqueue(await report(false));
    },
    async flush(c) {
      if (!acc) return;
      c.enqueue(await report(true));
      acc.dispose();
    },
  });
}
