/**
 * The Parzen estimators of the TPE sampler (Bergstra et al. 2011), as Optuna builds them
 * with its defaults (independent per parameter, prior weight 1, "magic clip", no
 * endpoints): a mixture of normals truncated to the range, one kernel per observation plus
 * one wide prior kernel, for numbers; smoothed counts for categories. Pure math on plain
 * numbers; the sampler maps parameters into and out of these ranges.
 */
import type { Uniform01 } from "./space.ts";

/** A mixture of normals truncated to [lo, hi]; weights sum to 1. */
export interface TruncatedMixture {
  /** The range's low end. */
  lo: number;
  /** The range's high end. */
  hi: number;
  /** Each kernel's centre (the prior's last). */
  mus: number[];
  /** Each kernel's width. */
  sigmas: number[];
  /** Each kernel's weight. */
  weights: number[];
}

/**
 * Optuna's default weights of `n` observations in trial order: all 1 below 25, else the
 * oldest n−25 ramp up from 1/n and the newest 25 weigh 1.
 */
export function rampWeights(n: number): number[] {
  if (n < 25) return new Array(n).fill(1);
  const ramp = n - 25;
  const w: number[] = [];
  for (let i = 0; i < ramp; i++) {
    w.push(ramp === 1 ? 1 / n : 1 / n + (i * (1 - 1 / n)) / (ramp - 1));
  }
  return [...w, ...new Array(25).fill(1)];
}

/**
 * The numeric estimator of observations `xs` (in trial order) over [lo, hi]. Each kernel's
 * width is the larger gap to its neighbours among the observations, the prior's centre and
 * the range's ends (the outermost take their inner gap), clipped to [(hi−lo)/min(100, 1+k),
 * hi−lo] for k kernels; the prior kernel sits at the centre with width hi−lo.
 */
export function numericEstimator(
  xs: readonly number[],
  lo: number,
  hi: number,
  priorWeight = 1,
): TruncatedMixture {
  const range = hi - lo;
  const prior = 0.5 * (lo + hi);
  const all = [...xs, prior];
  const order = all.map((_, i) => i).sort((a, b) => all[a] - all[b] || a - b);
  const sorted = [lo, ...order.map((i) => all[i]), hi];
  const sig = new Array<number>(all.length);
  order.forEach((idx, k) => {
    const j = k + 1;
    sig[idx] = Math.max(sorted[j] - sorted[j - 1], sorted[j + 1] - sorted[j]);
  });
  if (sorted.length >= 4) {
    sig[order[0]] = sorted[2] - sorted[1];
    sig[order[order.length - 1]] = sorted[sorted.length - 2] - sorted[sorted.length - 3];
  }
  const minSigma = range / Math.min(100, 1 + all.length);
  const sigmas = sig.slice(0, xs.length).map((s) => Math.min(range, Math.max(minSigma, s)));
  const raw = [...rampWeights(xs.length), priorWeight];
  const total = raw.reduce((a, b) => a + b, 0);
  return {
    lo,
    hi,
    mus: [...xs, prior],
    sigmas: [...sigmas, range],
    weights: raw.map((w) => w / total),
  };
}

/** erfc(x) (Numerical Recipes' Chebyshev fit; relative error below 1.2e-7). */
export function erfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r = t * Math.exp(
    -z * z - 1.26551223 +
      t * (1.00002368 +
          t * (0.37409196 +
              t * (0.09678418 +
                  t * (-0.18628806 +
                      t * (0.27886807 +
                          t *
                            (-1.13520398 +
                              t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
  );
  return x >= 0 ? r : 2 - r;
}

/** The standard normal CDF. */
export function normalCdf(z: number): number {
  return 0.5 * erfc(-z / Math.SQRT2);
}

/** A standard normal draw (Box–Muller on two uniforms). */
export function normalDraw(rng: Uniform01): number {
  const u = 1 - rng.next(), v = rng.next();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/** Picks an index by `weights` (summing to 1) with one uniform. */
export function pickIndex(weights: readonly number[], u: number): number {
  let acc = 0;
  for (let i = 0; i < weights.length; i++) {
    acc += weights[i];
    if (u < acc) return i;
  }
  return weights.length - 1;
}

/**
 * One draw from the mixture: a kernel by weight, then its normal until it lands in
 * [lo, hi] (every kernel's centre is in the range and its width at most the range, so a
 * draw lands with probability above 1/3; after 100 misses it is clipped).
 */
export function sampleMixture(m: TruncatedMixture, rng: Uniform01): number {
  const k = pickIndex(m.weights, rng.next());
  let x = m.mus[k];
  for (let tries = 0; tries < 100; tries++) {
    x = m.mus[k] + m.sigmas[k] * normalDraw(rng);
    if (x >= m.lo && x <= m.hi) return x;
  }
  return Math.min(m.hi, Math.max(m.lo, x));
}

/** log Σ exp(v). */
function logSumExp(v: number[]): number {
  const top = Math.max(...v);
  if (!Number.isFinite(top)) return top;
  return top + Math.log(v.reduce((s, x) => s + Math.exp(x - top), 0));
}

/** The mixture's log density at `x`. */
export function mixtureLogPdf(m: TruncatedMixture, x: number): number {
  const terms = m.mus.map((mu, k) => {
    const s = m.sigmas[k];
    const z = (x - mu) / s;
    const mass = normalCdf((m.hi - mu) / s) - normalCdf((m.lo - mu) / s);
    return Math.log(m.weights[k]) - 0.5 * z * z - Math.log(s) - 0.5 * Math.log(2 * Math.PI) -
      Math.log(Math.max(mass, 1e-300));
  });
  return logSumExp(terms);
}

/**
 * The categorical estimator of observed choice indices `obs` (in trial order) among `n`
 * choices: each observation is a kernel putting 1 + priorWeight/n on its choice and
 * priorWeight/n on each (normalized), the prior a uniform kernel of weight `priorWeight`.
 * Returns the probability of each choice.
 */
export function categoricalEstimator(
  obs: readonly number[],
  n: number,
  priorWeight = 1,
): number[] {
  const raw = [...rampWeights(obs.length), priorWeight];
  const total = raw.reduce((a, b) => a + b, 0);
  const p = new Array<number>(n).fill(raw[obs.length] / total / n);
  obs.forEach((c, i) => {
    const w = raw[i] / total;
    for (let j = 0; j < n; j++) {
      p[j] += (w * (priorWeight / n + (j === c ? 1 : 0))) / (1 + priorWeight);
    }
  });
  return p;
}
