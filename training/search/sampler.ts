/**
 * Samplers: what configuration trial n of a study tries.
 *
 * Every draw for trial n and key k comes from its own generator `new Rng(trialSeed(seed,
 * n, k))`, a pure function of the study's seed, the trial's number and the key. So the
 * random sampler gives trial n the same configuration whichever worker claims it and in
 * whatever order the trials are claimed, and adding a key to the space leaves the other
 * keys' values as they were.
 *
 * TPE (Bergstra et al. 2011, with Optuna's defaults: 10 random startup trials, the best
 * γ(n) = min(⌈0.1·n⌉, 25) finished trials are "good", Parzen estimators with a prior,
 * 24 candidates drawn from the good estimator l and the one maximizing l(x)/g(x) taken)
 * depends on the history. Its determinism: trial n's configuration is a pure function of
 * (seed, n, the finished trials at the moment it is claimed — their numbers, parameters,
 * states, values and reports — and, with the constant liar (the default), the parameters
 * of the trials running then, which count as bad ones). The same history gives the same
 * configuration; with
 * several workers the history a claim sees depends on timing, so a parallel study is
 * repeatable only trial by trial, given the history each claim saw. Below the startup
 * count it draws exactly what the random sampler draws.
 */
import { Rng } from "../../core/random.ts";
import { UsageError } from "../../core/errors.ts";
import type { HValue } from "./types.ts";
import { type Distribution, type SearchSpace, valueAt } from "./space.ts";
import { better, type Direction, type TrialRecord } from "./types.ts";
import {
  categoricalEstimator,
  mixtureLogPdf,
  numericEstimator,
  pickIndex,
  sampleMixture,
} from "./parzen.ts";

/** A sampler as a study stores it (JSON). */
export type SamplerSpec =
  | { kind: "random" }
  | {
    kind: "tpe";
    nStartupTrials: number;
    nEiCandidates: number;
    priorWeight: number;
    /**
     * False: running trials are ignored. Absent (the default): they count as bad ones
     * (Optuna's `constant_liar`), so a study stored before the option existed, and joined
     * with the same flags, matches and uses it.
     */
    constantLiar?: false;
  };

/** What a sampler is asked for one trial. */
export interface SampleContext {
  /** The study's space. */
  space: SearchSpace;
  /** The trial's number. */
  number: number;
  /** The study's seed. */
  seed: number;
  /** Which way the study's value is better. */
  direction: Direction;
  /** The study's trials as stored when the trial is claimed (any state). */
  history: readonly TrialRecord[];
}

/** Gives trial configurations. */
export interface Sampler {
  /** Its settings, as the study stores them. */
  readonly spec: SamplerSpec;
  /** Whether `sample` reads `history` (a store may skip loading it when not). */
  readonly needsHistory: boolean;
  /** The configuration of one trial: a value for every key of the space, in its order. */
  sample(ctx: SampleContext): Record<string, HValue>;
}

function mix(h: number, x: number): number {
  h = Math.imul((h ^ x) >>> 0, 0x85ebca6b) >>> 0;
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * The 32-bit generator seed of trial `number`'s key `key` in a study seeded `seed` (a
 * hash of the three: pure, so independent of workers and claim order).
 */
export function trialSeed(seed: number, number: number, key = ""): number {
  let h = mix(0x9e3779b9, seed >>> 0);
  h = mix(h, Math.floor(seed / 4294967296) >>> 0);
  h = mix(h, number >>> 0);
  for (const ch of key) h = mix(h, ch.codePointAt(0)!);
  return mix(h, key.length);
}

function randomParams(ctx: SampleContext): Record<string, HValue> {
  const out: Record<string, HValue> = {};
  for (const [k, d] of Object.entries(ctx.space)) {
    out[k] = d.kind === "fixed"
      ? d.value
      : valueAt(d, new Rng(trialSeed(ctx.seed, ctx.number, k)).next());
  }
  return out;
}

/** The random sampler: every key drawn independently from its distribution. */
export function randomSampler(): Sampler {
  return { spec: { kind: "random" }, needsHistory: false, sample: randomParams };
}

/** The TPE sampler's settings (Optuna's defaults when left out). */
export interface TpeOptions {
  /** Finished trials needed before TPE takes over from random draws (10). */
  nStartupTrials?: number;
  /** Candidates drawn from the good estimator per key (24). */
  nEiCandidates?: number;
  /** Weight of the prior kernel (1). */
  priorWeight?: number;
  /**
   * Count the trials other workers are running as bad ones, so parallel workers spread out
   * instead of all sampling near the same good region (Optuna's `constant_liar`; true).
   */
  constantLiar?: boolean;
}

/** Optuna's default split: the best min(⌈0.1·n⌉, 25) of n finished trials are "good". */
export function gamma(n: number): number {
  return Math.min(Math.ceil(0.1 * n), 25);
}

/** A finished trial with the value TPE ranks it by. */
interface Observed {
  t: TrialRecord;
  value: number;
  lastEpoch: number;
}

/**
 * The finished trials ranked best first: complete ones by value, then pruned ones by how
 * far they got (latest epoch first) and their last value (as Optuna ranks them).
 */
export function rankTrials(history: readonly TrialRecord[], direction: Direction): TrialRecord[] {
  const done: Observed[] = [], pruned: Observed[] = [];
  for (const t of history) {
    if (!t.params) continue;
    if (t.state === "complete" && t.value !== undefined && Number.isFinite(t.value)) {
      done.push({ t, value: t.value, lastEpoch: Infinity });
    } else if (t.state === "pruned") {
      const last = t.reports.filter((r) => Number.isFinite(r.value)).at(-1);
      if (last) pruned.push({ t, value: last.value, lastEpoch: last.epoch });
    }
  }
  const byValue = (a: Observed, b: Observed) =>
    better(a.value, b.value, direction) ? -1 : better(b.value, a.value, direction) ? 1 : 0;
  done.sort((a, b) => byValue(a, b) || a.t.number - b.t.number);
  pruned.sort((a, b) => b.lastEpoch - a.lastEpoch || byValue(a, b) || a.t.number - b.t.number);
  return [...done, ...pruned].map((o) => o.t);
}

/** A numeric distribution's range in the estimator's space, and the maps in and out. */
function numericFrame(d: Distribution) {
  if (d.kind === "uniform") {
    return { lo: d.low, hi: d.high, to: (v: number) => v, from: (x: number) => x };
  }
  if (d.kind === "loguniform") {
    return {
      lo: Math.log(d.low),
      hi: Math.log(d.high),
      to: Math.log,
      from: (x: number) => Math.min(d.high, Math.max(d.low, Math.exp(x))),
    };
  }
  const { low, high, log } = d as { low: number; high: number; log: boolean };
  const clamp = (v: number) => Math.min(high, Math.max(low, Math.round(v)));
  return log
    ? {
      lo: Math.log(low - 0.5),
      hi: Math.log(high + 0.5),
      to: Math.log,
      from: (x: number) => clamp(Math.exp(x)),
    }
    : { lo: low - 0.5, hi: high + 0.5, to: (v: number) => v, from: clamp };
}

function tpeValue(
  d: Distribution,
  good: readonly HValue[],
  bad: readonly HValue[],
  rng: Rng,
  spec: Extract<SamplerSpec, { kind: "tpe" }>,
): HValue {
  if (d.kind === "fixed") return d.value;
  if (d.kind === "choice") {
    const index = (v: HValue) => d.choices.findIndex((c) => Object.is(c, v));
    const idx = (vs: readonly HValue[]) => vs.map(index).filter((i) => i >= 0);
    const l = categoricalEstimator(idx(good), d.choices.length, spec.priorWeight);
    const g = categoricalEstimator(idx(bad), d.choices.length, spec.priorWeight);
    let best = -1, bestScore = -Infinity;
    for (let k = 0; k < spec.nEiCandidates; k++) {
      const c = pickIndex(l, rng.next());
      const score = Math.log(l[c]) - Math.log(g[c]);
      if (best < 0 || score > bestScore) [best, bestScore] = [c, score];
    }
    return d.choices[best];
  }
  const f = numericFrame(d);
  const xs = (vs: readonly HValue[]) =>
    vs.filter((v): v is number => typeof v === "number" && Number.isFinite(f.to(v))).map(f.to)
      .map((x) => Math.min(f.hi, Math.max(f.lo, x)));
  const l = numericEstimator(xs(good), f.lo, f.hi, spec.priorWeight);
  const g = numericEstimator(xs(bad), f.lo, f.hi, spec.priorWeight);
  let best = NaN, bestScore = -Infinity;
  for (let k = 0; k < spec.nEiCandidates; k++) {
    const x = sampleMixture(l, rng);
    const score = mixtureLogPdf(l, x) - mixtureLogPdf(g, x);
    if (Number.isNaN(best) || score > bestScore) [best, bestScore] = [x, score];
  }
  return f.from(best);
}

function checkCount(v: unknown, what: string, min: number): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < min) {
    throw new UsageError(`--sampler: tpe ${what} must be an integer >= ${min}, got ${v}`);
  }
  return v;
}

/** The TPE sampler (see the module comment). Throws `UsageError` for bad settings. */
export function tpeSampler(opts: TpeOptions = {}): Sampler {
  const prior = opts.priorWeight ?? 1;
  if (typeof prior !== "number" || !(prior > 0) || !Number.isFinite(prior)) {
    throw new UsageError(`--sampler: tpe priorWeight must be a number > 0, got ${prior}`);
  }
  const spec = {
    kind: "tpe" as const,
    nStartupTrials: checkCount(opts.nStartupTrials ?? 10, "nStartupTrials", 0),
    nEiCandidates: checkCount(opts.nEiCandidates ?? 24, "nEiCandidates", 1),
    priorWeight: prior,
    ...(opts.constantLiar === false ? { constantLiar: false as const } : {}),
  };
  return {
    spec,
    needsHistory: true,
    sample(ctx: SampleContext): Record<string, HValue> {
      const ranked = rankTrials(ctx.history.filter((t) => t.number !== ctx.number), ctx.direction);
      if (ranked.length < spec.nStartupTrials || ranked.length === 0) return randomParams(ctx);
      const nGood = gamma(ranked.length);
      const byNumber = (a: TrialRecord, b: TrialRecord) => a.number - b.number;
      const good = ranked.slice(0, nGood).sort(byNumber);
      // The constant liar: a trial in flight elsewhere gets the worst value (no finished
      // trial ranks below it), so the good estimator's region it sits in weighs less.
      const flying = spec.constantLiar !== false
        ? ctx.history.filter((t) => t.state === "running" && t.params && t.number !== ctx.number)
        : [];
      const bad = [...ranked.slice(nGood), ...flying].sort(byNumber);
      const out: Record<string, HValue> = {};
      for (const [k, d] of Object.entries(ctx.space)) {
        const vals = (ts: TrialRecord[]) =>
          ts.filter((t) => k in t.params!).map((t) => t.params![k]);
        const rng = new Rng(trialSeed(ctx.seed, ctx.number, k));
        out[k] = tpeValue(d, vals(good), vals(bad), rng, spec);
      }
      return out;
    },
  };
}

/**
 * The sampler a stored spec (or a name, `random` or `tpe`) describes. Throws `UsageError`
 * for anything else.
 */
export function samplerFromSpec(spec: unknown): Sampler {
  const s = typeof spec === "string" ? { kind: spec } : spec as { kind?: unknown };
  if (s?.kind === "random") return randomSampler();
  if (s?.kind === "tpe") return tpeSampler(s as TpeOptions);
  throw new UsageError(`--sampler: unknown sampler ${JSON.stringify(spec)} (use random or tpe)`);
}
