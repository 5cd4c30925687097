/**
 * The SQLite study: creating, joining and refusing a different definition; the trial
 * lifecycle with the pruner's verdicts; concurrent claimers (several study objects in one
 * process, and separate worker processes); dead workers re-queued once by `reapDead`
 * (a claim left without heartbeats, and a SIGKILLed child); stop and resume.
 */
import { assert, assertEquals, assertRejects } from "../../assert.ts";
import { UsageError } from "../../../core/errors.ts";
import { parseSpace } from "../../../training/search/space.ts";
import { randomSampler, tpeSampler } from "../../../training/search/sampler.ts";
import { ashaPruner } from "../../../training/search/pruner.ts";
import {
  deadLocalWorker,
  defaultWorkerId,
  keepAlive,
  StaleTrialError,
  type Study,
  type Trial,
} from "../../../training/search/study.ts";
import { defaultStudyPath, openSqliteStudy } from "../../../training/search/study_sqlite.ts";
import { openStudy } from "../../../training/search/open.ts";
import { checkFail, testDefinition } from "./_worker.ts";
import { hangWorker, runWorkers } from "./_children.ts";
import { tempDir } from "../../_temp.ts";

async function withDir(f: (dir: string) => Promise<void>): Promise<void> {
  const dir = await tempDir("search-sqlite-");
  try {
    await f(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function expected(number: number) {
  const d = testDefinition();
  return randomSampler().sample({ space: d.space, number, seed: 7, direction: "max", history: [] });
}

async function rejects(f: () => Promise<unknown>): Promise<unknown> {
  try {
    await f();
  } catch (e) {
    return e;
  }
  throw new Error("did not throw");
}

Deno.test("SQLite study: created once, joined with the same definition, refused otherwise", async () => {
  await withDir(async (dir) => {
    const path = defaultStudyPath(dir);
    assertEquals(path, `${dir}/study.sqlite`);
    const a = await openStudy(undefined, dir, "s1", testDefinition());
    assertEquals(a.where, path);
    const header = (await Deno.readFile(path)).subarray(18, 20);
    assertEquals([...header], [2, 2], "WAL mode");
    const b = await openSqliteStudy(path, "s1", testDefinition());
    const c = await openSqliteStudy(path, "s1");
    assertEquals(c.definition.nTrials, 12, "joined without a definition: the stored one");
    assertEquals((await c.trials()).map((t) => t.state), new Array(12).fill("queued"));
    const differ: [Partial<ReturnType<typeof testDefinition>>, RegExp][] = [
      [{ seed: 8 }, /seed 8 here, 7 in the study/],
      [{ nTrials: 13 }, /trials 13 here, 12 in the study/],
      [{ direction: "min" }, /direction "min" here, "max" in the study/],
      [{ sampler: tpeSampler() }, /sampler \{"kind":"tpe"/],
      [
        { space: parseSpace("x=uniform(0,2);opt=choice(adam,sgd);layers=int(1,4)") },
        /space x: uniform\(0,2\) here, uniform\(0,1\) in the study/,
      ],
    ];
    for (const [change, re] of differ) {
      const err = await rejects(() =>
        openSqliteStudy(path, "s1", { ...testDefinition(), ...change })
      );
      assert(err instanceof UsageError, `${JSON.stringify(change)}: ${err}`);
      assert(re.test(err.message), err.message);
      assert(
        err.message.startsWith(`--study: study "s1" in ${path} was created with`),
        err.message,
      );
    }
    await assertRejects(() => openSqliteStudy(path, "nope"), /no study "nope" in/);
    await assertRejects(
      () => openSqliteStudy(path, "s2", { ...testDefinition(), nTrials: 0 }),
      /^--trials: must be an integer from 1/,
    );
    await assertRejects(() => openSqliteStudy(path, ""), /bad study name/);
    const other = await openSqliteStudy(path, "s2", testDefinition(3));
    assertEquals((await other.trials()).length, 3, "studies in one file are apart");
    for (const s of [a, b, c, other]) await s.close();
  });
});

Deno.test("SQLite study: a failed claim is queued again once, then fails", async () => {
  await withDir(async (dir) => {
    const s = await openSqliteStudy(`${dir}/s.sqlite`, "fail", testDefinition());
    await checkFail(s, assertEquals);
    await s.close();
  });
});

Deno.test("SQLite study: claim, report, finish; verdicts from every trial's reports", async () => {
  await withDir(async (dir) => {
    const s = await openSqliteStudy(`${dir}/s.sqlite`, "life", testDefinition(3));
    const t0 = await s.claim("w1");
    assert(t0, "a trial");
    assertEquals([t0.number, t0.attempt, t0.worker], [0, 1, "w1"]);
    assertEquals(t0.params, expected(0), "trial 0's configuration is the seeded one");
    assertEquals(await s.report(t0, 1, 0.25), "continue");
    assertEquals(await s.report(t0, 2, NaN), "continue", "no pruner");
    assert(await s.heartbeat(t0));
    await assertRejects(() => s.finish(t0, "complete"), /complete but has no value/);
    await assertRejects(() => s.report(t0, 0, 1), /epoch must be an integer >= 1/);
    await s.finish(t0, "complete", 0.5);
    await assertRejects(() => s.finish(t0, "failed"), /no longer running under this claim/);
    const t1 = (await s.claim("w2"))!;
    await s.report(t1, 1, 0.125);
    await s.finish(t1, "pruned");
    const t2 = (await s.claim("w1"))!;
    await s.finish(t2, "failed");
    assertEquals(await s.claim("w1"), undefined, "all 3 finished");
    const all = await s.trials();
    assertEquals(all.map((t) => [t.number, t.state, t.value, t.worker, t.attempts]), [
      [0, "complete", 0.5, "w1", 1],
      [1, "pruned", 0.125, "w2", 1],
      [2, "failed", undefined, "w1", 1],
    ]);
    assertEquals(all[0].reports.length, 2);
    assert(Number.isNaN(all[0].reports[1].value), "a NaN report reads back as NaN");
    assert(all[0].started && all[0].ended && all[0].params, JSON.stringify(all[0]));
    await s.close();

    // ASHA on stored reports: rung 1 keeps the best of 1/3.
    const asha = await openSqliteStudy(`${dir}/s.sqlite`, "asha", {
      ...testDefinition(4),
      pruner: ashaPruner({ gracePeriod: 1, reductionFactor: 3, maxEpochs: 9 }),
    });
    const a = (await asha.claim("w"))!, b = (await asha.claim("w"))!, c = (await asha.claim("w"))!;
    assertEquals(await asha.report(a, 1, 0.5), "continue");
    assertEquals(await asha.report(b, 1, 0.4), "prune");
    assertEquals(await asha.report(c, 1, 0.6), "continue");
    await asha.close();

    // TPE reads the history inside the claim's transaction.
    const tpe = await openSqliteStudy(`${dir}/s.sqlite`, "tpe", {
      ...testDefinition(8),
      sampler: tpeSampler({ nStartupTrials: 3 }),
    });
    for (let k = 0; k < 8; k++) {
      const t = (await tpe.claim("w"))!;
      assertEquals(t.number, k);
      await tpe.finish(t, "complete", -((Number(t.params.x) - 0.3) ** 2));
    }
    assertEquals((await tpe.trials()).filter((t) => t.state === "complete").length, 8);
    await tpe.close();
  });
});

/** Claims and finishes trials until none is left; the numbers it finished. */
async function drain(s: Study, worker: string): Promise<number[]> {
  const got: number[] = [];
  for (let t = await s.claim(worker); t; t = await s.claim(worker)) {
    await new Promise((r) => setTimeout(r, 0));
    await s.report(t, 1, Number(t.params.x));
    await new Promise((r) => setTimeout(r, 0));
    await s.finish(t, "complete", Number(t.params.x));
    got.push(t.number);
  }
  return got;
}

function assertAllDoneOnce(finished: number[], trials: Awaited<ReturnType<Study["trials"]>>) {
  assertEquals([...finished].sort((a, b) => a - b), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
  assertEquals(trials.map((t) => t.state), new Array(12).fill("complete"));
  assertEquals(trials.map((t) => t.attempts), new Array(12).fill(1), "no trial claimed twice");
  for (const t of trials) assertEquals(t.params, expected(t.number), `trial ${t.number}`);
}

Deno.test("SQLite study: four study objects on one file claim concurrently", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/study.sqlite`;
    const studies = await Promise.all(
      [1, 2, 3, 4].map(() => openSqliteStudy(path, "conc", testDefinition())),
    );
    const got = await Promise.all(studies.map((s, k) => drain(s, `w${k}`)));
    assertAllDoneOnce(got.flat(), await studies[0].trials());
    assert(got.filter((g) => g.length > 0).length > 1, "the claims interleaved");
    for (const s of studies) await s.close();
  });
});

Deno.test("SQLite study: three worker processes finish 12 distinct trials, none twice", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/study.sqlite`;
    const done = await runWorkers(path, "procs", ["p1", "p2", "p3"]);
    const s = await openSqliteStudy(path, "procs");
    const trials = await s.trials();
    assertAllDoneOnce(done.flat().map(([n]) => n), trials);
    assertEquals(done.flat().map(([, a]) => a), new Array(12).fill(1));
    assertEquals(trials.map((t) => t.value), trials.map((t) => Number(t.params!.x)));
    await s.close();
  });
});

Deno.test("SQLite study: a claim left without heartbeats is re-queued once, then fails", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/study.sqlite`;
    const a = await openSqliteStudy(path, "dead", testDefinition(3));
    const b = await openSqliteStudy(path, "dead", testDefinition(3));
    const lost = (await a.claim("dies"))!;
    await a.report(lost, 1, 0.1);
    assertEquals(await b.reapDead(600_000), [], "a fresh heartbeat is alive");
    assertEquals(await b.reapDead(0), [{ number: 0, worker: "dies", requeued: true }]);
    assertEquals((await b.trials())[0].reports, [], "the dead attempt's reports are dropped");
    assertEquals(await a.heartbeat(lost), false, "the old claim is gone");
    assert((await rejects(() => a.report(lost, 2, 0.2))) instanceof StaleTrialError);
    const again = (await b.claim("rescuer"))!;
    assertEquals([again.number, again.attempt], [0, 2], "the re-queued trial comes first");
    assertEquals(again.params, lost.params);
    assert((await rejects(() => a.finish(lost, "complete", 1))) instanceof StaleTrialError);
    assertEquals(await b.reapDead(0), [{ number: 0, worker: "rescuer", requeued: false }]);
    const rest: Trial[] = [(await b.claim("w"))!, (await b.claim("w"))!];
    assertEquals(rest.map((t) => t.number), [1, 2], "a trial that died twice stays failed");
    for (const t of rest) await b.finish(t, "complete", 1);
    const trials = await b.trials();
    assertEquals(trials.map((t) => [t.state, t.attempts]), [["failed", 2], ["complete", 1], [
      "complete",
      1,
    ]]);
    await a.close();
    await b.close();
  });
});

Deno.test("SQLite study: a SIGKILLed worker's trial is re-queued once and finished by another", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/study.sqlite`;
    const s = await openSqliteStudy(path, "kill", testDefinition());
    const first = await hangWorker(path, "kill", "victim-1");
    assertEquals([first.number, first.attempt], [0, 1]);
    await first.kill();
    assertEquals(await s.reapDead(0), [{ number: 0, worker: "victim-1", requeued: true }]);
    const rescued = (await s.claim("rescuer"))!;
    assertEquals([rescued.number, rescued.attempt], [0, 2]);
    assertEquals(rescued.params, expected(0), "the same configuration");
    await s.finish(rescued, "complete", 1);

    const second = await hangWorker(path, "kill", "victim-2");
    assertEquals(second.number, 1);
    await second.kill();
    assertEquals(await s.reapDead(0), [{ number: 1, worker: "victim-2", requeued: true }]);
    const third = await hangWorker(path, "kill", "victim-3");
    assertEquals([third.number, third.attempt], [1, 2], "the re-queued trial again");
    await third.kill();
    assertEquals(await s.reapDead(0), [{ number: 1, worker: "victim-3", requeued: false }]);
    const done = await drain(s, "finisher");
    assertEquals(done, [2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    const trials = await s.trials();
    assertEquals(trials.slice(0, 2).map((t) => [t.state, t.worker, t.attempts]), [
      ["complete", "rescuer", 2],
      ["failed", "victim-3", 2],
    ]);
    await s.close();
  });
});

Deno.test("SQLite study: stopped and reopened, it hands out only the unfinished trials", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/study.sqlite`;
    const s = await openSqliteStudy(path, "resume", testDefinition());
    const claimed: Trial[] = [];
    for (let k = 0; k < 5; k++) claimed.push((await s.claim("before"))!);
    for (const t of claimed.slice(0, 3)) await s.finish(t, "complete", 1);
    await s.release(claimed[3]); // an interrupted worker hands its trial back
    await s.close(); // trial 4 stays "running": its worker is gone without a word

    const again = await openSqliteStudy(path, "resume", testDefinition());
    const order: number[] = [];
    for (let t = await again.claim("after"); t; t = await again.claim("after")) {
      order.push(t.number);
      if (t.number === 3) assertEquals([t.params, t.attempt], [claimed[3].params, 1]);
      await again.finish(t, "complete", 1);
    }
    assertEquals(order, [3, 5, 6, 7, 8, 9, 10, 11], "the released trial first, then new ones");
    assertEquals(await again.reapDead(0), [{ number: 4, worker: "before", requeued: true }]);
    const last = (await again.claim("after"))!;
    assertEquals([last.number, last.params], [4, claimed[4].params]);
    await again.finish(last, "complete", 1);
    assertEquals(await again.claim("after"), undefined);
    assertEquals(
      (await again.trials()).map((t) => t.state),
      new Array(12).fill("complete"),
    );
    await again.close();
  });
});

Deno.test("SQLite study: keepAlive beats until the claim is reaped, then says it is lost", async () => {
  await withDir(async (dir) => {
    const s = await openSqliteStudy(`${dir}/study.sqlite`, "alive", testDefinition(2));
    const t = (await s.claim("w"))!;
    let lost!: () => void;
    const gone = new Promise<void>((r) => lost = r);
    const beats = keepAlive(s, t, 5, { onLost: lost });
    assertEquals(beats.lost, false);
    assertEquals(await s.reapDead(0), [{ number: 0, worker: "w", requeued: true }]);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const deadline = new Promise<never>((_, no) => {
      timer = setTimeout(() => no(new Error("the lost claim was never noticed")), 60_000);
    });
    try {
      await Promise.race([gone, deadline]);
    } finally {
      clearTimeout(timer);
    }
    assert(beats.lost);
    beats.stop();
    await s.close();
  });
});

Deno.test("SQLite study: a worker process of this host that is gone is reaped at once", async () => {
  await withDir(async (dir) => {
    const s = await openSqliteStudy(`${dir}/study.sqlite`, "gone", testDefinition(2));
    // A pid that existed and has exited: its process is gone, its heartbeat still fresh.
    const child = new Deno.Command("true").spawn();
    await child.status;
    const gone = `${Deno.hostname()}:${child.pid}`;
    const alive = defaultWorkerId();
    await s.claim(gone);
    await s.claim(alive);
    assertEquals(deadLocalWorker(gone), true);
    assertEquals(deadLocalWorker(alive), false);
    assertEquals(deadLocalWorker(`another-host.example:${child.pid}`), false, "not judged here");
    assertEquals(await s.reapDead(600_000), [], "both heartbeats are fresh");
    assertEquals(await s.reapDead(600_000, deadLocalWorker), [
      { number: 0, worker: gone, requeued: true },
    ]);
    await s.close();
  });
});
