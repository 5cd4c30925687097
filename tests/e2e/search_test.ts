/**
 * Hyper-parameter search through the command people run, with the SQLite study in the
 * `--out` folder: a 12-trial random study on two worker processes (every trial once, the
 * same configurations for the same seed), ASHA on a metric known in advance (the tiny
 * pipeline's `TINY_ACCURACY_FROM_LR` hook), and a study stopped with SIGTERM at a known
 * step (the `WEBGPU_TRAIN_BLOCK_AFTER_STEP` hook) then resumed by rerunning the command.
 */
import { assert, assertEquals } from "../assert.ts";
import { cli, snapshot, startBlocked } from "./_cli.ts";
import {
  metricsRows,
  runJson,
  sqliteTrials,
  studyArgs,
  trainedCounts,
  trialFolders,
} from "./_search.ts";
import { lrAccuracy } from "./tiny_pipeline.ts";
import { parseSpace } from "../../training/search/space.ts";
import { randomSampler } from "../../training/search/sampler.ts";
import { ashaPruner, type ReportedTrial } from "../../training/search/pruner.ts";
import { dumpDom } from "../stages/log/_chromium.ts";
import { tempDir } from "../_temp.ts";

const SPACE = "lr=loguniform(1e-4,1e-2);batch_size=2,4;weight_decay=uniform(0,0.001);seed=int(0,9)";
const NAMES = Array.from({ length: 12 }, (_, n) => `trial_${String(n).padStart(4, "0")}`);

/** What the random sampler gives trial `n` of a study seeded `seed` over `space`. */
function drawn(space: string, seed: number, n: number) {
  return randomSampler().sample({
    space: parseSpace(space),
    number: n,
    seed,
    direction: "max",
    history: [],
  });
}

Deno.test("a 12-trial random study on 2 workers runs every trial once; the seed fixes the configurations", async () => {
  const out = await tempDir("search-2w-");
  const args = await studyArgs(
    out,
    ...["--trials", "12", "--grid", SPACE, "--seed", "5", "--epochs", "2", "--workers", "2"],
  );
  const r = await cli(args);
  assertEquals(r.code, 0, r.out + r.err);
  const all = r.out + r.err;
  assert(/starting 2 worker process\(es\)/.test(all), all);
  assert(/^\[w1\] /m.test(all) && /^\[w2\] /m.test(all), "both workers printed");
  // Every trial trained exactly once, by one of the two workers.
  const counts = trainedCounts(all);
  assertEquals([...counts.keys()].sort(), NAMES);
  assert([...counts.values()].every((c) => c === 1), JSON.stringify([...counts]));
  const trials = await sqliteTrials(out, "tiny_pipeline");
  assertEquals(
    trials.map((t) => [t.number, t.state, t.attempts]),
    NAMES.map((_, n) => [n, "complete", 1]),
  );
  assertEquals(new Set(trials.map((t) => t.worker)).size <= 2, true);
  assertEquals(trialFolders(out), NAMES);
  for (const [n, name] of NAMES.entries()) {
    const want = drawn(SPACE, 5, n);
    const s = runJson(out, name);
    assertEquals(s.state, "complete");
    for (const k of Object.keys(want)) {
      assertEquals((s.params as Record<string, unknown>)[k], want[k]);
    }
    assertEquals(trials[n].params!.lr, want.lr);
    const opts = JSON.parse(Deno.readTextFileSync(`${out}/version_0/${name}/options.json`));
    assertEquals([opts.options.lr, opts.options.batchSize, opts.trial], [
      want.lr,
      want.batch_size,
      n,
    ]);
  }
  // metrics.csv: every trial's epochs, with its number and state.
  const rows = await metricsRows(out);
  assertEquals(rows.length, 24);
  assertEquals(new Set(rows.map((x) => `${x.run}/${x.epoch}`)).size, 24);
  for (const x of rows) {
    assertEquals(x.run, NAMES[Number(x.trial)]);
    assertEquals(x.state, "complete");
  }
  // The closing table covers the study: a header with the state and the searched keys.
  assert(/study "tiny_pipeline": 12 trial\(s\): 12 complete; best 5/.test(r.out), r.out);
  assert(
    /#\s+trial\s+state\s+TestAccuracy\s+epoch\s+epochs\s+lr\s+batch_size\s+weight_decay\s+seed/
      .test(r.out),
    r.out,
  );
  // The same seed again (one worker, one epoch): the same configurations, trial by trial.
  const again = await tempDir("search-seed-");
  const r2 = await cli(
    await studyArgs(again, "--trials", "12", "--grid", SPACE, "--seed", "5", "--epochs", "1"),
  );
  assertEquals(r2.code, 0, r2.err);
  const t2 = await sqliteTrials(again, "tiny_pipeline");
  const searched = (p?: Record<string, unknown>) =>
    JSON.stringify(["lr", "batch_size", "weight_decay", "seed"].map((k) => p?.[k]));
  assertEquals(t2.map((t) => searched(t.params)), trials.map((t) => searched(t.params)));
  assert(searched(drawn(SPACE, 6, 0)) !== searched(trials[0].params), "another seed, other draws");
});

Deno.test("ASHA prunes the trials below its rung; a pruned trial keeps its rows and is marked everywhere", async () => {
  const out = await tempDir("search-asha-");
  const space = "lr=loguniform(1e-4,1e-1)";
  const args = await studyArgs(
    out,
    ...["--trials", "8", "--grid", space, "--seed", "2", "--epochs", "2"],
    ...["--prune", "asha:grace=1,eta=2"],
  );
  const r = await cli(args, { TINY_ACCURACY_FROM_LR: "1" });
  assertEquals(r.code, 0, r.out + r.err);
  // The expected verdicts: one worker claims the trials in order, so ASHA sees them so.
  const pruner = ashaPruner({ gracePeriod: 1, reductionFactor: 2, maxEpochs: 2, mode: "max" });
  const history: ReportedTrial[] = [];
  const expected: string[] = [];
  for (let n = 0; n < 8; n++) {
    const lr = drawn(space, 2, n).lr as number;
    const v1 = lrAccuracy(lr, 1);
    const verdict = pruner.decide(history, n, 1, v1);
    const reports = [{ epoch: 1, value: v1 }];
    if (verdict === "continue") reports.push({ epoch: 2, value: lrAccuracy(lr, 2) });
    const state = verdict === "prune" ? "pruned" : "complete";
    history.push({ number: n, state, reports });
    expected.push(state);
  }
  assert(expected.includes("pruned") && expected.includes("complete"), expected.join());
  const trials = await sqliteTrials(out, "tiny_pipeline");
  assertEquals(trials.map((t) => t.state), expected);
  const rows = await metricsRows(out);
  for (const [n, state] of expected.entries()) {
    const name = `trial_${String(n).padStart(4, "0")}`;
    const mine = rows.filter((x) => x.run === name);
    assertEquals(
      mine.map((x) => [x.epoch, x.trial, x.state]),
      (state === "pruned" ? ["1"] : ["1", "2"]).map((e) => [e, String(n), state]),
    );
    const s = runJson(out, name);
    assertEquals([s.state, s.epochsDone], [state, state === "pruned" ? 1 : 2]);
    if (state === "pruned") assert(r.err.includes(`${name}: pruned after epoch 1`), r.err);
    assertEquals(Number(mine[0].TestAccuracy), lrAccuracy(trials[n].params!.lr as number, 1));
  }
  const count = (s: string) => expected.filter((x) => x === s).length;
  assert(
    r.out.includes(`8 trial(s): ${count("complete")} complete, ${count("pruned")} pruned`),
    r.out,
  );
  // The report: a state per trial, one dot per trial on the lr scatter, the best's curves.
  const dom = await dumpDom(`${out}/version_0/report.html`);
  assert(!/data-error=/.test(dom), dom.match(/data-error="[^"]*"/)?.[0]);
  assert(/<body[^>]*data-drawn="accuracy study"/.test(dom), "charts drawn");
  const states = [
    ...dom.matchAll(/<tr class="run" data-run="(trial_\d+)" data-trial="\d+" data-state="(\w+)"/g),
  ];
  assertEquals(states.map((m) => m[2]), expected);
  assert(/id="scatter-0" data-points="8" data-drawn="1"/.test(dom), "scatter of lr");
  assert(
    /id="best-accuracy" data-drawn="1"/.test(dom) && /id="best-loss" data-drawn="1"/.test(dom),
  );
});

Deno.test("a study stopped by SIGTERM resumes when the command is rerun, never rerunning a finished trial", async () => {
  const out = await tempDir("search-stop-");
  const args = await studyArgs(
    out,
    ...["--trials", "12", "--grid", "lr=loguniform(1e-4,1e-2)", "--epochs", "2", "--workers", "2"],
  );
  // Trial 3 blocks after its first step (whichever worker claims it): SIGTERM then.
  const live = await startBlocked(args, "trial_0003@1");
  const stopped = await live.stop("SIGTERM");
  assertEquals(stopped.code, 143, stopped.all);
  assert(/stopped by SIGTERM with \d+ trial\(s\) left/.test(stopped.all), stopped.all);
  const hint = /resume with: (.+)$/m.exec(stopped.all);
  assert(
    hint && hint[1].includes("--search random") && hint[1].includes("--workers 2"),
    stopped.all,
  );
  assert(/trial_0003: interrupted; released to the study/.test(stopped.all), stopped.all);
  const before = await sqliteTrials(out, "tiny_pipeline");
  const done = before.filter((t) => t.state === "complete").map((t) => t.number);
  assertEquals(before[3].state, "queued");
  assert(!before.some((t) => t.state === "running"), "every claim was released or finished");
  const snaps = new Map<number, Map<string, string>>();
  for (const n of done) {
    snaps.set(n, await snapshot(`${out}/version_0/trial_${String(n).padStart(4, "0")}`));
  }
  // The same command again finishes the study.
  const r = await cli(args);
  assertEquals(r.code, 0, r.out + r.err);
  const all = r.out + r.err;
  assert(/resuming study "tiny_pipeline"/.test(all), all);
  assert(/trial_0003: resuming from its checkpoint/.test(all), all);
  assert(/trial_0003: resumed after epoch 0 and 1 step\(s\) of epoch 1/.test(all), all);
  const again = trainedCounts(all);
  for (const n of done) {
    assert(!again.has(`trial_${String(n).padStart(4, "0")}`), `trial ${n} rerun`);
  }
  const after = await sqliteTrials(out, "tiny_pipeline");
  assertEquals(after.map((t) => [t.state, t.attempts]), NAMES.map(() => ["complete", 1]));
  for (const [n, snap] of snaps) {
    const now = await snapshot(`${out}/version_0/trial_${String(n).padStart(4, "0")}`);
    assertEquals([...now.entries()], [...snap.entries()], `trial ${n} untouched`);
  }
  const rows = await metricsRows(out);
  assertEquals(rows.length, 24);
  assert(rows.every((x) => x.state === "complete"), "every row complete");
  // One version folder for the study; a third run finds nothing to do.
  assertEquals([...Deno.readDirSync(out)].filter((e) => e.name.startsWith("version_")).length, 1);
  const third = await cli(args);
  assertEquals(third.code, 0, third.err);
  assert(/every trial of the study has ended \(12 complete\)/.test(third.out), third.out);
  assertEquals(trainedCounts(third.out + third.err).size, 0);
});
