/**
 * Samplers: the random sampler is a pure function of (study seed, trial number, key); the
 * Parzen estimators are proper densities; TPE falls back to random draws during startup,
 * is repeatable given its history, counts running trials as bad ones (the constant liar),
 * and beats random search on a 1-D quadratic over a seeded set of runs.
 */
import { assert, assertClose, assertEquals } from "../../assert.ts";
import { Rng } from "../../../core/random.ts";
import { parseSpace, type SearchSpace } from "../../../training/search/space.ts";
import {
  gamma,
  randomSampler,
  rankTrials,
  type Sampler,
  samplerFromSpec,
  tpeSampler,
  trialSeed,
} from "../../../training/search/sampler.ts";
import {
  categoricalEstimator,
  mixtureLogPdf,
  numericEstimator,
  rampWeights,
  sampleMixture,
} from "../../../training/search/parzen.ts";
import type { Direction, TrialRecord } from "../../../training/search/types.ts";
import type { HValue } from "../../../stages/evaluate.ts";

const space = parseSpace(
  "lr=loguniform(1e-5,1e-2);bs=32,64,128;drop=uniform(0,0.5);layers=int(1,4);fixed=3",
);

function configs(s: Sampler, seed: number, numbers: number[], sp: SearchSpace = space) {
  return numbers.map((number) =>
    s.sample({ space: sp, number, seed, direction: "max", history: [] })
  );
}

Deno.test("random sampler: the same study seed gives the same trial configurations", () => {
  const r = randomSampler();
  const forward = configs(r, 42, [0, 1, 2, 3, 4, 5, 6, 7]);
  const shuffled = configs(r, 42, [5, 2, 7, 0, 3, 6, 1, 4]);
  const again = configs(randomSampler(), 42, [0, 1, 2, 3, 4, 5, 6, 7]);
  assertEquals(again, forward, "a second sampler with the same seed");
  for (const [k, n] of [5, 2, 7, 0, 3, 6, 1, 4].entries()) {
    assertEquals(shuffled[k], forward[n], `trial ${n} does not depend on the order of draws`);
  }
  const other = configs(r, 43, [0, 1, 2, 3, 4, 5, 6, 7]);
  assert(other.some((c, i) => c.lr !== forward[i].lr), "another seed gives other draws");
  assertEquals(new Set(forward.map((c) => c.lr)).size, 8, "trials differ from each other");
  for (const c of forward) {
    assertEquals(Object.keys(c), ["lr", "bs", "drop", "layers", "fixed"]);
    assertEquals(c.fixed, 3);
    assert((c.lr as number) >= 1e-5 && (c.lr as number) <= 1e-2);
  }
  // Adding a key leaves the other keys' draws as they were.
  const wider = configs(
    r,
    42,
    [0, 1, 2],
    parseSpace(`${"extra=uniform(0,1)"};lr=loguniform(1e-5,1e-2)`),
  );
  assertEquals(wider.map((c) => c.lr), forward.slice(0, 3).map((c) => c.lr));
  assert(trialSeed(42, 1, "lr") !== trialSeed(42, 2, "lr"));
  assert(trialSeed(42, 1, "lr") !== trialSeed(2 ** 32 + 42, 1, "lr"), "high seed bits count");
  assertEquals(trialSeed(42, 1, "lr"), trialSeed(42, 1, "lr"));
});

Deno.test("Parzen estimators: densities integrate to 1; kernels follow the observations", () => {
  for (const xs of [[], [0.2], [0.1, 0.15, 0.9], Array.from({ length: 30 }, (_, i) => i / 30)]) {
    const m = numericEstimator(xs, 0, 1);
    assertClose(m.weights.reduce((a, b) => a + b, 0), 1, 1e-12);
    const steps = 20000;
    let area = 0;
    for (let i = 0; i < steps; i++) area += Math.exp(mixtureLogPdf(m, (i + 0.5) / steps)) / steps;
    assertClose(area, 1, 1e-4, `∫ pdf over [0,1] for ${xs.length} observations: ${area}`);
  }
  // Few observations make wide kernels (the clip's floor is range/(1 + kernels)).
  assertClose(numericEstimator([0.1, 0.12, 0.11], 0, 1).sigmas[2], 1 / 5, 1e-12);
  const m = numericEstimator(Array.from({ length: 40 }, (_, i) => 0.1 + i * 0.0005), 0, 1);
  assertClose(m.sigmas[3], 1 / 42, 1e-12);
  const rng = new Rng(1);
  let near = 0;
  for (let i = 0; i < 1000; i++) {
    const x = sampleMixture(m, rng);
    assert(x >= 0 && x <= 1);
    if (Math.abs(x - 0.11) < 0.1) near++;
  }
  assert(near > 900, `draws cluster at the observations (prior weight 1/41): ${near}`);
  assertEquals(rampWeights(3), [1, 1, 1]);
  const w = rampWeights(27);
  assertEquals([w.length, w[0], w[1], w[2]], [27, 1 / 27, 1, 1]);
  const p = categoricalEstimator([0, 0, 1], 3);
  assertClose(p.reduce((a, b) => a + b, 0), 1, 1e-12);
  // 4 kernels of weight 1/4: choice 0 gets 2·(1/3+1)/2/4 + (1/3/2)/4 + 1/4/3.
  assertClose(p[0], (2 * (4 / 3) / 2) / 4 + (1 / 3 / 2) / 4 + 1 / 12, 1e-12);
  assert(p[0] > p[1] && p[1] > p[2], JSON.stringify(p));
  assertEquals([gamma(1), gamma(10), gamma(11), gamma(300)], [1, 1, 2, 25]);
});

function done(number: number, params: Record<string, HValue>, value: number): TrialRecord {
  return { number, params, state: "complete", value, reports: [{ epoch: 1, value }], attempts: 1 };
}

Deno.test("TPE: random draws during startup; ranking; repeatable given its history", () => {
  const tpe = tpeSampler();
  assertEquals(tpe.spec, { kind: "tpe", nStartupTrials: 10, nEiCandidates: 24, priorWeight: 1 });
  assertEquals(samplerFromSpec(tpe.spec).spec, tpe.spec);
  const honest = tpeSampler({ constantLiar: false }).spec;
  assertEquals(honest, { ...tpe.spec, constantLiar: false }, "the liar's default is not stored");
  assertEquals(samplerFromSpec(honest).spec, honest);
  assertEquals(samplerFromSpec("tpe").spec, tpe.spec);
  assertEquals(samplerFromSpec("random").spec, { kind: "random" });
  const history = configs(randomSampler(), 9, [0, 1, 2, 3, 4, 5, 6, 7, 8])
    .map((p, n) => done(n, p, -n));
  const ctx = { space, number: 9, seed: 9, direction: "max" as Direction, history };
  assertEquals(tpe.sample(ctx), randomSampler().sample(ctx), "9 < 10 startup trials: random");
  const pruned: TrialRecord = {
    number: 20,
    params: history[0].params,
    state: "pruned",
    reports: [{ epoch: 1, value: 5 }, { epoch: 2, value: 4 }],
    attempts: 1,
  };
  const running: TrialRecord = { ...pruned, number: 21, state: "running" };
  const ranked = rankTrials([pruned, running, ...history], "max").map((t) => t.number);
  assertEquals(ranked, [0, 1, 2, 3, 4, 5, 6, 7, 8, 20], "complete by value, then pruned");
  assertEquals(rankTrials(history, "min").map((t) => t.number)[0], 8);
  const full = {
    ...ctx,
    number: 11,
    history: [...history, done(9, history[1].params!, 1), pruned],
  };
  const a = tpe.sample(full), b = tpeSampler().sample(full);
  assertEquals(a, b, "the same history gives the same configuration");
  assertEquals(Object.keys(a), Object.keys(space));
  assertEquals(a.fixed, 3);
  assert([32, 64, 128].includes(a.bs as number) && Number.isInteger(a.layers), JSON.stringify(a));
});

Deno.test("TPE constant liar: trials running elsewhere count as bad, so the next claim looks elsewhere", () => {
  // One choice key. Finished: the 2 good trials (γ(11) = 2) took "a", the 9 bad ones 5 "a"
  // and 4 "b", so l/g favours "a". With 20 trials running at "a", the liar makes "a" mostly
  // bad (g(a) ≈ 0.85 against l(a) ≈ 0.83) and "b" wins; without the liar they are ignored.
  const sp = parseSpace("opt=a,b");
  const history = [
    ...[0, 1].map((n) => done(n, { opt: "a" }, 10 - n)),
    ...[2, 3, 4, 5, 6, 7, 8, 9, 10].map((n) => done(n, { opt: n < 7 ? "a" : "b" }, -n)),
  ];
  const running = [...Array(20)].map((_, k): TrialRecord => ({
    number: 11 + k,
    params: { opt: "a" },
    state: "running",
    reports: [],
    attempts: 1,
  }));
  const at = (sampler: Sampler, h: TrialRecord[]) =>
    sampler.sample({ space: sp, number: 40, seed: 3, direction: "max", history: h }).opt;
  const liar = tpeSampler(), honest = tpeSampler({ constantLiar: false });
  assertEquals(at(liar, history), "a", "nothing running: the good region");
  assertEquals(at(honest, [...history, ...running]), "a", "no liar: running trials ignored");
  assertEquals(at(liar, [...history, ...running]), "b", "liar: away from the running ones");
  const self = running.map((t) => ({ ...t, number: 40 }));
  assertEquals(at(liar, [...history, self[0]]), "a", "the trial being sampled is not a liar");
});

/** The best value of a sequential study of `n` trials minimizing (x − 1.3)². */
function bestOf(sampler: Sampler, seed: number, n: number): number {
  const sp = parseSpace("x=uniform(-10,10)");
  const history: TrialRecord[] = [];
  let best = Infinity;
  for (let number = 0; number < n; number++) {
    const params = sampler.sample({ space: sp, number, seed, direction: "min", history });
    const value = ((params.x as number) - 1.3) ** 2;
    history.push(done(number, params, value));
    best = Math.min(best, value);
  }
  return best;
}

Deno.test("TPE beats random search on a 1-D quadratic over 20 seeded studies", () => {
  const seeds = Array.from({ length: 20 }, (_, i) => 1000 + i);
  const tpe = seeds.map((s) => bestOf(tpeSampler(), s, 40));
  const rnd = seeds.map((s) => bestOf(randomSampler(), s, 40));
  const wins = seeds.filter((_, i) => tpe[i] < rnd[i]).length;
  const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
  assert(wins >= 14, `TPE better in ${wins}/20 studies (tpe ${tpe}, random ${rnd})`);
  assert(mean(tpe) < mean(rnd) / 3, `mean best: tpe ${mean(tpe)}, random ${mean(rnd)}`);
});
