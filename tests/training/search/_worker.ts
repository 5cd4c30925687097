/**
 * A search worker for the study tests, run as a child process:
 *
 *   deno run -A tests/training/search/_worker.ts <mode> <store> <study> <worker> [limit]
 *
 * `store` is a SQLite file, or `pg` for the URL in `SEARCH_TEST_PG_URL` (so no password is
 * on a command line). Mode `run` claims trials and trains each for two fake epochs (a short
 * awaited timer, then a report) and finishes it, until no trial is queued or `limit` are
 * done, printing `done <number> <attempt>` per trial. Mode `hang` claims one trial, prints
 * `claimed <number> <attempt>` and then waits without ever heart-beating (to be killed).
 * Imported, it gives the tests the study's definition and opener.
 */
import { parseSpace } from "../../../training/search/space.ts";
import { randomSampler } from "../../../training/search/sampler.ts";
import { noPruner } from "../../../training/search/pruner.ts";
import type { Study, StudyDefinition } from "../../../training/search/study.ts";
import { openSqliteStudy } from "../../../training/search/study_sqlite.ts";

/** The tests' study: 12 trials of a small space, random sampler, seed 7. */
export function testDefinition(nTrials = 12): StudyDefinition {
  return {
    space: parseSpace("x=uniform(0,1);opt=choice(adam,sgd);layers=int(1,4)"),
    sampler: randomSampler(),
    pruner: noPruner(),
    seed: 7,
    nTrials,
    direction: "max",
  };
}

/** Opens the tests' study in `store` (a SQLite file, or `pg`: `SEARCH_TEST_PG_URL`). */
export async function openTestStudy(store: string, name: string): Promise<Study> {
  if (store !== "pg") return await openSqliteStudy(store, name, testDefinition());
  const { openPostgresStudy } = await import("../../../training/search/study_postgres.ts");
  const url = Deno.env.get("SEARCH_TEST_PG_URL");
  if (!url) throw new Error("SEARCH_TEST_PG_URL is not set");
  return await openPostgresStudy(url, name, testDefinition());
}

/**
 * Checks `fail` on a fresh 12-trial study: a failed claim is queued again (first in line,
 * its configuration kept, its reports dropped), its second failure is final, and a claim
 * that is no longer the trial's is refused.
 */
export async function checkFail(s: Study, assertEquals: (a: unknown, b: unknown) => void) {
  const t = (await s.claim("w"))!;
  await s.report(t, 1, 0.5);
  assertEquals(await s.fail(t), true);
  let rec = (await s.trials())[t.number];
  assertEquals([rec.state, rec.attempts, rec.reports.length], ["queued", 1, 0]);
  const again = (await s.claim("w2"))!;
  assertEquals([again.number, again.attempt, again.params], [t.number, 2, t.params]);
  let stale = "";
  await s.fail(t).catch((e) => (stale = (e as Error).name));
  assertEquals(stale, "StaleTrialError");
  assertEquals(await s.fail(again), false);
  rec = (await s.trials())[t.number];
  assertEquals([rec.state, rec.attempts, rec.worker, Boolean(rec.ended)], [
    "failed",
    2,
    "w2",
    true,
  ]);
  assertEquals((await s.claim("w"))!.number, t.number + 1);
}

async function main(args: string[]): Promise<void> {
  const [mode, store, name, worker, limit] = args;
  const study = await openTestStudy(store, name);
  try {
    if (mode === "hang") {
      const t = await study.claim(worker);
      console.log(t ? `claimed ${t.number} ${t.attempt}` : "none");
      if (t) await new Promise(() => setInterval(() => {}, 60_000));
      return;
    }
    let done = 0;
    const max = limit ? Number(limit) : Infinity;
    while (done < max) {
      const t = await study.claim(worker);
      if (!t) break;
      for (let epoch = 1; epoch <= 2; epoch++) {
        await new Promise((r) => setTimeout(r, 5));
        await study.heartbeat(t);
        await study.report(t, epoch, Number(t.params.x) * epoch);
      }
      await study.finish(t, "complete", Number(t.params.x));
      console.log(`done ${t.number} ${t.attempt}`);
      done++;
    }
  } finally {
    await study.close();
  }
}

if (import.meta.main) await main(Deno.args);
