/**
 * The PostgreSQL study against a real throw-away server (tests/_postgres.ts): create, join
 * and refuse; concurrent claims (study objects in one process, and three worker processes);
 * a SIGKILLed worker's trial re-queued once; stop and resume; and no password in any
 * error, `where` or stored field. Ignored, never passed, when no server can be run here.
 */
import postgres from "postgres";
import { assert, assertEquals } from "../../assert.ts";
import { UsageError } from "../../../core/errors.ts";
import { randomSampler } from "../../../training/search/sampler.ts";
import type { Study, Trial } from "../../../training/search/study.ts";
import { maskUrl, openPostgresStudy, StoreError } from "../../../training/search/study_postgres.ts";
import { openStudy } from "../../../training/search/open.ts";
import { postgresUnavailable, startPostgres } from "../../_postgres.ts";
import { checkFail, testDefinition } from "./_worker.ts";
import { hangWorker, runWorkers } from "./_children.ts";

const pgMissing = await postgresUnavailable();
if (pgMissing) console.error(`PostgreSQL study tests ignored: ${pgMissing}`);

async function rejects(f: () => Promise<unknown>): Promise<unknown> {
  try {
    await f();
  } catch (e) {
    return e;
  }
  throw new Error("did not throw");
}

function expected(number: number) {
  const d = testDefinition();
  return randomSampler().sample({ space: d.space, number, seed: 7, direction: "max", history: [] });
}

Deno.test("PostgreSQL study: a bad URL is a UsageError, an unreachable server a masked StoreError", async () => {
  for (const url of ["mysql://u:pw1@h/db", "postgres://u:pw1@h:99999/db", "postgres://u:%zz@h/d"]) {
    const err = await rejects(() => openPostgresStudy(url, "s", testDefinition()));
    assert(err instanceof UsageError, `${url}: ${err}`);
    assert(err.message.includes("u:***@h") && !/pw1|%zz/.test(err.message), err.message);
  }
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  const err = await rejects(() =>
    openStudy(`postgres://u:hunter2@127.0.0.1:${port}/db`, "/unused", "s", testDefinition())
  );
  assert(err instanceof StoreError, `expected StoreError, got ${err}`);
  assert(err.message.includes(`postgres://u:***@127.0.0.1:${port}/db`), err.message);
  assert(!err.message.includes("hunter2") && !err.message.includes("\n"), err.message);
});

/** Claims and finishes trials until none is left; the numbers it finished. */
async function drain(s: Study, worker: string): Promise<number[]> {
  const got: number[] = [];
  for (let t = await s.claim(worker); t; t = await s.claim(worker)) {
    await s.report(t, 1, Number(t.params.x));
    await s.finish(t, "complete", Number(t.params.x));
    got.push(t.number);
  }
  return got;
}

async function assertAllDoneOnce(s: Study, finished: number[]): Promise<void> {
  assertEquals([...finished].sort((a, b) => a - b), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
  const trials = await s.trials();
  assertEquals(trials.map((t) => t.state), new Array(12).fill("complete"));
  assertEquals(trials.map((t) => t.attempts), new Array(12).fill(1), "no trial claimed twice");
  for (const t of trials) assertEquals(t.params, expected(t.number), `trial ${t.number}`);
}

Deno.test({
  name: "PostgreSQL study against a real server: join, concurrency, SIGKILL, resume, passwords",
  ignore: pgMissing !== null,
  fn: async (t) => {
    const pg = await startPostgres();
    assert(pg, "PostgreSQL is installed but the test server did not start (see stderr)");
    const secrets = [pg.password, encodeURIComponent(pg.password)];
    const env = { SEARCH_TEST_PG_URL: pg.url };
    const opened: Study[] = [];
    const open = async (name: string, def = testDefinition()) => {
      const s = await openPostgresStudy(pg.url, name, def);
      opened.push(s);
      return s;
    };
    try {
      await t.step("created once, joined, refused with a different definition", async () => {
        const a = await open("s1");
        assertEquals(a.where, `${maskUrl(pg.url)} (study s1)`);
        assert(!secrets.some((s) => a.where.includes(s)), a.where);
        const b = await open("s1");
        assertEquals((await b.trials()).length, 12);
        const err = await rejects(() => open("s1", { ...testDefinition(), seed: 9, nTrials: 5 }));
        assert(err instanceof UsageError, String(err));
        assert(
          /seed 9 here, 7 in the study; trials 5 here, 12 in the study/.test(err.message),
          err.message,
        );
        assert(!secrets.some((s) => err.message.includes(s)), err.message);
        const joined = await openPostgresStudy(pg.url, "s1");
        opened.push(joined);
        assertEquals(joined.definition.seed, 7);
        const t0 = (await a.claim("w"))!;
        assertEquals([t0.number, t0.params], [0, expected(0)]);
        assertEquals(await a.report(t0, 1, NaN), "continue");
        await a.finish(t0, "pruned");
        const rec = (await b.trials())[0];
        assertEquals([rec.state, rec.value, rec.attempts, rec.worker], [
          "pruned",
          undefined,
          1,
          "w",
        ]);
        assert(Number.isNaN(rec.reports[0].value));
      });

      await t.step("three study objects claim concurrently", async () => {
        const studies = await Promise.all(["c", "c", "c"].map((n) => open(n)));
        const got = await Promise.all(studies.map((s, k) => drain(s, `w${k}`)));
        await assertAllDoneOnce(studies[0], got.flat());
      });

      await t.step("three worker processes finish 12 distinct trials, none twice", async () => {
        const s = await open("procs");
        const done = await runWorkers("pg", "procs", ["p1", "p2", "p3"], env);
        await assertAllDoneOnce(s, done.flat().map(([n]) => n));
        assertEquals(done.flat().map(([, a]) => a), new Array(12).fill(1));
      });

      await t.step("a SIGKILLed worker's trial is re-queued once, then fails", async () => {
        const s = await open("kill");
        const first = await hangWorker("pg", "kill", "victim-1", env);
        assertEquals([first.number, first.attempt], [0, 1]);
        await first.kill();
        assertEquals(await s.reapDead(0), [{ number: 0, worker: "victim-1", requeued: true }]);
        const rescued = (await s.claim("rescuer"))!;
        assertEquals([rescued.number, rescued.attempt, rescued.params], [0, 2, expected(0)]);
        await s.finish(rescued, "complete", 1);
        for (const [k, attempt] of [[2, 1], [3, 2]]) {
          const w = await hangWorker("pg", "kill", `victim-${k}`, env);
          assertEquals([w.number, w.attempt], [1, attempt]);
          await w.kill();
          assertEquals(await s.reapDead(0), [{
            number: 1,
            worker: `victim-${k}`,
            requeued: attempt === 1,
          }]);
        }
        assertEquals(await drain(s, "finisher"), [2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
        const trials = await s.trials();
        assertEquals(trials.slice(0, 2).map((x) => [x.state, x.worker, x.attempts]), [
          ["complete", "rescuer", 2],
          ["failed", "victim-3", 2],
        ]);
      });

      await t.step("stopped and reopened, it hands out only the unfinished trials", async () => {
        const s = await openPostgresStudy(pg.url, "resume", testDefinition());
        const claimed: Trial[] = [];
        for (let k = 0; k < 4; k++) claimed.push((await s.claim("before"))!);
        for (const c of claimed.slice(0, 3)) await s.finish(c, "complete", 1);
        await s.release(claimed[3]);
        await s.close();
        const again = await open("resume");
        const order = await drain(again, "after");
        assertEquals(order, [3, 4, 5, 6, 7, 8, 9, 10, 11]);
        assertEquals((await again.trials())[3].params, claimed[3].params);
      });

      await t.step("a failed claim is queued again once, then fails", async () => {
        await checkFail(await open("fail"), assertEquals);
      });

      await t.step("no password in a stored field; a wrong password's error masks it", async () => {
        const sql = postgres(pg.url.replace(`:${encodeURIComponent(pg.password)}@`, "@"), {
          pass: pg.password,
          onnotice: () => {},
          max: 1,
        });
        try {
          for (const table of ["studies", "trials", "reports"]) {
            const rows = await sql.unsafe(`SELECT * FROM webgpu_search_${table}`);
            const text = JSON.stringify(rows);
            assert(rows.length > 0 && !secrets.some((s) => text.includes(s)), table);
          }
        } finally {
          await sql.end();
        }
        const wrong = "wr0ng/pa@ss";
        const wrongUrl = pg.url.replace(encodeURIComponent(pg.password), encodeURIComponent(wrong));
        const err = await rejects(() => openPostgresStudy(wrongUrl, "s1", testDefinition()));
        assert(err instanceof StoreError, `expected StoreError, got ${err}`);
        assert(err.message.includes(maskUrl(wrongUrl)), err.message);
        assert(/password authentication failed/.test(err.message), err.message);
        for (const s of [wrong, encodeURIComponent(wrong), ...secrets]) {
          assert(!err.message.includes(s), err.message);
        }
      });
    } finally {
      for (const s of opened) await s.close();
      await pg.stop();
    }
  },
});
