/**
 * The "early_stopping" training callback: watches one named metric per epoch and says when to
 * stop, keeping a copy of the best weights on the GPU and restoring it on stop.
 *
 *   improved ⇔ value < best − minDelta   (mode "min")
 *           ⇔ value > best + minDelta   (mode "max")
 *   stop once `patience` epochs in a row did not improve (Keras' and Lightning's rule).
 *
 * The monitored name is checked against the metrics the pipeline will report, at
 * `start()`: a name that does not exist is an error that lists the ones that do.
 */
import { gpu } from "../../core/gpu.ts";
import { type Module, type StateDict, trainedTensors as kept } from "../../core/nn/module.ts";
import { empty, fromArray, type Tensor } from "../../core/tensor.ts";
import type { Plugin } from "../registry.ts";
import { checkOptions } from "../options.ts";

/** Options of early stopping. */
export interface EarlyStoppingOptions {
  /** The metric to watch (default "TestLoss", the name `fit` reports). */
  monitor?: string;
  /** "min" (default): lower is better; "max": higher is better (accuracy). */
  mode?: "min" | "max";
  /** Epochs without improvement before stopping (default 3). */
  patience?: number;
  /** The smallest change that counts as an improvement (default 0). */
  minDelta?: number;
  /** Keep a GPU copy of the best weights and restore it on stop (default true). */
  restoreBest?: boolean;
}

/** The counters of early stopping (for checkpoints; the weight copy is not in it). */
export interface EarlyStoppingState {
  /** `update()` calls so far (the next epoch's 0-based index). */
  epoch: number;
  /** The best monitored value so far; null before the first. */
  best: number | null;
  /** The 0-based epoch of `best`; -1 before any. */
  bestEpoch: number;
  /** Epochs since the last improvement. */
  wait: number;
  /** Whether `update()` has said to stop. */
  stopped: boolean;
}

/**
 * Early stopping on one monitored metric: `start()` checks the name, `update()` each epoch
 * says when to stop (restoring the best weights when it keeps them).
 *
 * @example
 * const es = create<EarlyStopping>("callback", "early_stopping", { monitor: "TestAccuracy", mode: "max" });
 * es.start(["TrainLoss", "TestLoss", "TestAccuracy"], model);
 * for (…each epoch…) if (es.update(metrics, model)) break; // best weights are back in model
 */
export class EarlyStopping {
  /** The watched metric's name (default "TestLoss", the name `fit` reports). */
  readonly monitor: string;
  /** "min" (default): lower is better; "max": higher is better. */
  readonly mode: "min" | "max";
  /** Epochs in a row without improvement before stopping (default 3). */
  readonly patience: number;
  /** The smallest change that counts as an improvement (default 0). */
  readonly minDelta: number;
  /** Keep a GPU copy of the best weights and restore it on stop (default true). */
  readonly restoreBest: boolean;
  #epoch = 0;
  #best: number | null = null;
  #bestEpoch = -1;
  #wait = 0;
  #stopped = false;
  #started = false;
  #copy: Map<string, Tensor> | null = null;

  /**
   * Fills in the defaults; throws on a `mode` other than "min" or "max", a `patience` that
   * is not a whole number ≥ 0, or a negative `minDelta`.
   */
  constructor(opts: EarlyStoppingOptions = {}) {
    this.monitor = opts.monitor ?? "TestLoss";
    this.mode = opts.mode ?? "min";
    this.patience = opts.patience ?? 3;
    this.minDelta = opts.minDelta ?? 0;
    this.restoreBest = opts.restoreBest ?? true;
    if (this.mode !== "min" && this.mode !== "max") {
      throw new Error(`early_stopping: mode must be "min" or "max", got "${this.mode}"`);
    }
    if (!(Number.isInteger(this.patience) && this.patience >= 0)) {
      throw new Error(`early_stopping: patience must be a whole number ≥ 0, got ${this.patience}`);
    }
    if (!(this.minDelta >= 0)) {
      throw new Error(`early_stopping: minDelta must be ≥ 0, got ${this.minDelta}`);
    }
  }

  #missing(names: string[]): Error {
    return new Error(
      `early_stopping: monitored metric "${this.monitor}" does not exist; available metrics: ${
        names.length ? names.join(", ") : "none"
      }`,
    );
  }

  /**
   * Checks the monitored name against the metrics the pipeline reports (names, or a
   * sample record of them) before training starts; `model` is needed to keep best weights.
   */
  start(metrics: Iterable<string> | Record<string, unknown>, model?: Module): void {
    const names = Symbol.iterator in Object(metrics)
      ? [...(metrics as Iterable<string>)]
      : Object.keys(metrics);
    if (!names.includes(this.monitor)) throw this.#missing(names);
    if (this.restoreBest && !model) {
      throw new Error("early_stopping: start() needs the model to keep its best weights");
    }
    this.#started = true;
  }

  /**
   * Records one epoch's metrics; returns true when training should stop (the best
   * weights are then already restored into `model`, when kept).
   */
  update(metrics: Record<string, number>, model?: Module): boolean {
    if (!this.#started) throw new Error("early_stopping: call start() before update()");
    if (!(this.monitor in metrics)) throw this.#missing(Object.keys(metrics));
    const v = metrics[this.monitor];
    const epoch = this.#epoch++;
    if (this.#stopped) return true;
    if (this.#improved(v)) {
      this.#best = v;
      this.#bestEpoch = epoch;
      this.#wait = 0;
      if (this.restoreBest) this.#save(this.#needModel(model));
      return false;
    }
    this.#wait++;
    if (this.#wait >= this.patience) {
      this.#stopped = true;
      if (this.restoreBest && this.#copy) this.restore(this.#needModel(model));
      return true;
    }
    return false;
  }

  #needModel(model?: Module): Module {
    if (!model) {
      throw new Error("early_stopping: update() needs the model to keep its best weights");
    }
    return model;
  }

  #improved(v: number): boolean {
    if (Number.isNaN(v)) return false;
    if (this.#best === null) return true;
    return this.mode === "min" ? v < this.#best - this.minDelta : v > this.#best + this.minDelta;
  }

  /**
   * Copies the parameters that train (frozen ones never change) and the buffers of `model`
   * into the kept GPU copy (no readback).
   */
  #save(model: Module): void {
    const g = gpu();
    this.#copy ??= new Map();
    for (const [name, t] of kept(model)) {
      let c = this.#copy.get(name);
      if (!c || c.size !== t.size) {
        c?.dispose();
        c = empty(t.shape).keep();
        this.#copy.set(name, c);
      }
      if (t.bytes > 0) g.copy(t.buffer, 0, c.buffer, 0, t.bytes);
    }
  }

  /** Copies the best weights back into `model` (on the GPU); false when none were kept. */
  restore(model: Module): boolean {
    if (!this.#copy) return false;
    const g = gpu();
    for (const [name, t] of kept(model)) {
      const c = this.#copy.get(name);
      if (!c || c.size !== t.size) {
        throw new Error(`early_stopping: the kept weights have no ${name} [${t.shape}]`);
      }
      if (t.bytes > 0) g.copy(c.buffer, 0, t.buffer, 0, t.bytes);
    }
    return true;
  }

  /** Whether update() has said to stop. */
  get stopped(): boolean {
    return this.#stopped;
  }

  /** The best monitored value so far (null before the first epoch). */
  get best(): number | null {
    return this.#best;
  }

  /** The epoch (0-based count of update() calls) of the best value; −1 before any. */
  get bestEpoch(): number {
    return this.#bestEpoch;
  }

  /** Epochs since the last improvement. */
  get wait(): number {
    return this.#wait;
  }

  /** The counters, for a checkpoint. */
  state(): EarlyStoppingState {
    return {
      epoch: this.#epoch,
      best: this.#best,
      bestEpoch: this.#bestEpoch,
      wait: this.#wait,
      stopped: this.#stopped,
    };
  }

  /** Restores counters from `state()` (the kept weights come back with `setKeptWeights`). */
  setState(s: EarlyStoppingState): void {
    this.#epoch = s.epoch;
    this.#best = s.best;
    this.#bestEpoch = s.bestEpoch;
    this.#wait = s.wait;
    this.#stopped = s.stopped;
  }

  /** The kept best weights read back (for a checkpoint); null when none are kept. */
  async keptWeights(): Promise<StateDict | null> {
    if (!this.#copy) return null;
    const out: StateDict = {};
    for (const [name, t] of this.#copy) out[name] = { shape: [...t.shape], data: await t.data() };
    return out;
  }

  /** Restores the kept best weights from `keptWeights()` (a resumed run stops the same). */
  setKeptWeights(dict: StateDict | null): void {
    this.dispose();
    if (!dict) return;
    this.#copy = new Map();
    for (const [name, e] of Object.entries(dict)) {
      this.#copy.set(name, fromArray(e.data, e.shape).keep());
    }
  }

  /** Releases the kept weight copy. */
  dispose(): void {
    for (const t of this.#copy?.values() ?? []) t.dispose();
    this.#copy = null;
  }
}

/** Plugin "early_stopping" (kind callback). */
export const earlyStoppingPlugin: Plugin<EarlyStoppingOptions, EarlyStopping> = {
  kind: "callback",
  name: "early_stopping",
  description: "Stop when a monitored metric stops improving; keep and restore the best weights",
  create(options: EarlyStoppingOptions = {}): EarlyStopping {
    checkOptions(
      "early_stopping",
      options,
      ["monitor", "mode", "patience", "minDelta", "restoreBest"],
      "callback",
    );
    return new EarlyStopping(options);
  },
};
