/**
 * A study shared through a real PostgreSQL server (tests/_postgres.ts): three separate
 * invocations (as on three machines: each its own --out, one worker each) finish a
 * 12-trial study with no trial lost or run twice, and a worker SIGKILLed mid-trial (stopped
 * at a known step by `WEBGPU_TRAIN_BLOCK_AFTER_STEP`) has its attempt marked failed and its
 * trial queued again and finished by another worker; its own folder shows the attempt
 * failed once a worker starts there again. The password is never printed nor
 * written. Ignored, never passed, when no server can be run here.
 */
import { assert, assertEquals } from "../assert.ts";
import { startUntil } from "./_cli.ts";
import {
  cliWithin,
  filesHolding,
  runJson,
  studyArgs,
  trainedCounts,
  trialFolders,
} from "./_search.ts";
import { postgresUnavailable, startPostgres } from "../_postgres.ts";
import { openPostgresStudy } from "../../training/search/study_postgres.ts";
import type { TrialRecord } from "../../training/search/study.ts";
import { tempDir } from "../_temp.ts";

const pgMissing = await postgresUnavailable();
if (pgMissing) console.error(`PostgreSQL search tests ignored: ${pgMissing}`);

const SPACE = "lr=loguniform(1e-4,1e-2);batch_size=2,4";
const NAMES = Array.from({ length: 12 }, (_, n) => `trial_${String(n).padStart(4, "0")}`);
/**
 * A stale time no test run comes near (a busy machine can stall a live worker for seconds):
 * the SIGKILLed worker is taken over because its process is gone, not because it went quiet.
 */
const STALE = { WEBGPU_TRAIN_STUDY_STALE_MS: "600000" };

async function trialsOf(url: string, name: string): Promise<TrialRecord[]> {
  const s = await openPostgresStudy(url, name);
  try {
    return await s.trials();
  } finally {
    await s.close();
  }
}

Deno.test({
  name: "a PostgreSQL study: three invocations share it; a SIGKILLed worker's trial is taken over",
  ignore: pgMissing !== null,
  fn: async (t) => {
    const pg = await startPostgres();
    assert(pg, "PostgreSQL is installed but the test server did not start (see stderr)");
    const secrets = [pg.password, encodeURIComponent(pg.password)];
    const args = (out: string, study: string) =>
      studyArgs(
        out,
        ...["--trials", "12", "--grid", SPACE, "--epochs", "1", "--workers", "1"],
        ...["--storage", pg.url, "--study", study],
      );
    const noSecret = async (outs: string[], texts: string[]) => {
      for (const x of texts) assert(!secrets.some((s) => x.includes(s)), "password printed");
      for (const o of outs) assertEquals(await filesHolding(o, secrets), [], "password written");
    };
    try {
      await t.step(
        "three invocations with one worker each: 12 trials, none lost, none twice",
        async () => {
          const outs = await Promise.all([0, 1, 2].map(() => tempDir("pg3-")));
          const rs = await Promise.all(
            outs.map(async (o) => cliWithin(await args(o, "s3"), STALE)),
          );
          for (const r of rs) {
            assertEquals(r.code, 0, r.out + r.err);
            // Each invocation's closing table covers the whole study.
            assert(/study "s3": 12 trial\(s\): 12 complete/.test(r.out), r.out);
          }
          const trials = await trialsOf(pg.url, "s3");
          assertEquals(trials.map((x) => [x.state, x.attempts]), NAMES.map(() => ["complete", 1]));
          const folders = outs.flatMap((o) => trialFolders(o));
          assertEquals([...folders].sort(), NAMES, "each trial in exactly one machine's folder");
          for (const o of outs) {
            for (const f of trialFolders(o)) {
              assertEquals(runJson(o, f).worker, trials[Number(f.slice(6))].worker);
            }
            const saved = JSON.parse(Deno.readTextFileSync(`${o}/version_0/options.json`));
            assert(
              /^postgres:\/\/webgpu_test:\*\*\*@127\.0\.0\.1:\d+\/postgres$/.test(
                saved.study.storage,
              ),
            );
          }
          const counts = new Map<string, number>();
          for (const r of rs) {
            for (const [k, v] of trainedCounts(r.out + r.err)) {
              counts.set(k, (counts.get(k) ?? 0) + v);
            }
          }
          assert(
            [...counts.values()].every((v) => v === 1) && counts.size === 12,
            "trained once",
          );
          await noSecret(outs, rs.flatMap((r) => [r.out, r.err]));
        },
      );

      await t.step(
        "a worker SIGKILLed mid-trial: attempt failed, queued again, finished by another",
        async () => {
          const [a, b, c] = await Promise.all(
            [0, 1, 2].map(() => tempDir("pgk-")),
          );
          const victim = await startUntil(
            "cli.ts",
            await args(a, "kill"),
            { ...STALE, WEBGPU_TRAIN_BLOCK_AFTER_STEP: "1" },
            (o) => /test hook: blocking after step 1/.test(o),
          );
          const held = /(trial_\d{4}): test hook/.exec(victim.output())!;
          const n = Number(held[1].slice(6));
          const killed = await victim.stop("SIGKILL");
          assertEquals(killed.signal, "SIGKILL");
          const dead = `${Deno.hostname()}:${victim.child.pid}`;
          const rs = await Promise.all(
            [b, c].map(async (o) => cliWithin(await args(o, "kill"), STALE)),
          );
          for (const r of rs) assertEquals(r.code, 0, r.out + r.err);
          const all = rs.map((r) => r.out + r.err).join("\n");
          assert(
            all.includes(
              `trial ${n}: worker ${dead} is gone; its attempt failed, ` +
                "the trial is queued again",
            ),
            all,
          );
          const trials = await trialsOf(pg.url, "kill");
          assertEquals(trials.map((x) => x.state), NAMES.map(() => "complete"));
          assertEquals(trials.map((x) => x.attempts), NAMES.map((_, k) => (k === n ? 2 : 1)));
          assert(trials[n].worker !== dead, "finished by another worker");
          assertEquals([...trialFolders(b), ...trialFolders(c)].sort(), NAMES);
          // The victim's own folder still shows the attempt it was killed in, until a worker
          // starts there again (the study is done: it settles the folder and ends).
          assertEquals([runJson(a, held[1]).state, runJson(a, held[1]).worker], ["running", dead]);
          const again = await cliWithin(await args(a, "kill"), STALE);
          assertEquals(again.code, 0, again.out + again.err);
          const settled = runJson(a, held[1]);
          assertEquals([settled.state, settled.worker], ["failed", dead]);
          assertEquals(
            settled.error,
            `worker ${dead} is gone; the trial ended complete with worker ${trials[n].worker}`,
          );
          await noSecret(
            [a, b, c],
            [killed.all, again.out, again.err, ...rs.flatMap((r) => [r.out, r.err])],
          );
        },
      );
    } finally {
      await pg.stop();
    }
  },
});
