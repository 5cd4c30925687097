/**
 * A study in PostgreSQL (`--study-store postgres://…`), shared by workers on many machines.
 * Three tables, created when missing and shared by every study of the database, each row
 * keyed by its study's name: `webgpu_search_studies` (name, definition),
 * `webgpu_search_trials` (one row per trial, all nTrials queued when the study is created)
 * and `webgpu_search_reports` (one row per trial and epoch).
 *
 * A claim is one transaction: `SELECT … WHERE state = 'queued' … LIMIT 1 FOR UPDATE SKIP
 * LOCKED` takes the first queued row no other claim holds (a re-queued trial first), the
 * sampler draws its configuration if it has none, and the row becomes `running`; so claims
 * on many machines never wait on each other and never get the same trial. Heartbeats and
 * `reapDead` use the server's clock (`clock_timestamp()`), so the machines' clocks need
 * not agree.
 *
 * A password is never printed or stored: `where` and every error carry the URL as `maskUrl`
 * gives it, and any text from the driver is scrubbed of the URL and the password. The
 * password comes from the URL, else `PGPASSWORD`, else `~/.pgpass` (training/postgres.ts).
 */
import postgres from "postgres";
import { UsageError } from "../../core/errors.ts";
import { connectPg, maskUrl, StoreError } from "../postgres.ts";
import {
  checkDefinition,
  checkEpoch,
  checkSameStudy,
  checkStudyName,
  checkTimeout,
  definitionFromJson,
  type FinalState,
  finishValue,
  type ReapedTrial,
  reportValue,
  StaleTrialError,
  storedDefinition,
  storedValue,
  type Study,
  type StudyDefinition,
  type Trial,
  type TrialRecord,
  type TrialState,
  type Verdict,
} from "./study.ts";
import type { HValue } from "./types.ts";

/** The retraining store's URL masking and error, re-exported: the same rules here. */
export { maskUrl, StoreError };

const SCHEMA = [
  `CREATE TABLE IF NOT EXISTS webgpu_search_studies (
    name text PRIMARY KEY,
    definition text NOT NULL,
    created text NOT NULL
  )`,
  `CREATE TABLE IF NOT EXISTS webgpu_search_trials (
    study text NOT NULL REFERENCES webgpu_search_studies (name) ON DELETE CASCADE,
    number integer NOT NULL,
    state text NOT NULL,
    params text,
    value double precision,
    worker text,
    attempts integer NOT NULL DEFAULT 0,
    heartbeat timestamptz,
    started text,
    ended text,
    PRIMARY KEY (study, number)
  )`,
  `CREATE INDEX IF NOT EXISTS webgpu_search_trials_state
    ON webgpu_search_trials (study, state, number)`,
  `CREATE TABLE IF NOT EXISTS webgpu_search_reports (
    study text NOT NULL,
    number integer NOT NULL,
    epoch integer NOT NULL,
    value double precision,
    PRIMARY KEY (study, number, epoch)
  )`,
];

interface TrialRow {
  number: number;
  state: string;
  params: string | null;
  value: number | null;
  worker: string | null;
  attempts: number;
  started: string | null;
  ended: string | null;
}

type Sql = postgres.Sql | postgres.TransactionSql;

/**
 * Opens study `name` in the PostgreSQL database at `url` (tables created when missing).
 * With a definition, creates the study or joins it (`UsageError` naming the differences
 * when the stored one differs); without, joins the stored study. A malformed URL is a
 * `UsageError`; a server that cannot be reached or refuses the login a `StoreError` (one
 * line, password masked).
 */
export async function openPostgresStudy(
  url: string,
  name: string,
  definition?: StudyDefinition,
): Promise<Study> {
  checkStudyName(name);
  if (definition) checkDefinition(definition);
  const { sql, masked, fail, end } = connectPg(url, "webgpu-train search");
  const where = `${masked} (study ${name})`;
  const guard = async <T>(what: string, f: () => Promise<T>): Promise<T> => {
    try {
      return await f();
    } catch (e) {
      if (e instanceof UsageError || e instanceof StaleTrialError || e instanceof RangeError) {
        throw e;
      }
      throw fail(what, e);
    }
  };

  let def: StudyDefinition;
  try {
    def = await guard("cannot open the PostgreSQL study", () =>
      sql.begin(async (tx) => {
        // Two first workers may create the tables and the study at once: serialize that.
        await tx`SELECT pg_advisory_xact_lock(hashtext('webgpu_search_studies'), 0)`;
        for (const ddl of SCHEMA) await tx.unsafe(ddl);
        const rows = await tx<{ definition: string }[]>`
          SELECT definition FROM webgpu_search_studies WHERE name = ${name}`;
        if (rows.length) {
          const stored = definitionFromJson(rows[0].definition);
          if (definition) checkSameStudy(name, where, stored, definition);
          return stored;
        }
        if (!definition) throw new UsageError(`--study: there is no study "${name}" in ${where}`);
        const text = JSON.stringify(storedDefinition(definition));
        await tx`INSERT INTO webgpu_search_studies (name, definition, created)
          VALUES (${name}, ${text}, ${new Date().toISOString()})`;
        await tx`INSERT INTO webgpu_search_trials (study, number, state)
          SELECT ${name}, g, 'queued' FROM generate_series(0, ${definition.nTrials - 1}::int) g`;
        return definitionFromJson(text);
      }));
  } catch (e) {
    await end();
    throw e;
  }

  const loadAll = async (q: Sql): Promise<TrialRecord[]> => {
    const rows = await q<TrialRow[]>`
      SELECT number, state, params, value, worker, attempts, started, ended
      FROM webgpu_search_trials WHERE study = ${name} ORDER BY number`;
    const reps = await q<{ number: number; epoch: number; value: number | null }[]>`
      SELECT number, epoch, value FROM webgpu_search_reports WHERE study = ${name}
      ORDER BY number, epoch`;
    const by = new Map<number, { epoch: number; value: number }[]>();
    for (const r of reps) {
      const list = by.get(Number(r.number)) ?? [];
      list.push({ epoch: Number(r.epoch), value: reportValue(r.value) });
      by.set(Number(r.number), list);
    }
    return rows.map((r) => {
      const rec: TrialRecord = {
        number: Number(r.number),
        state: r.state as TrialState,
        reports: by.get(Number(r.number)) ?? [],
        attempts: Number(r.attempts),
      };
      if (r.params !== null) rec.params = JSON.parse(r.params) as Record<string, HValue>;
      if (r.value !== null) rec.value = Number(r.value);
      if (r.worker !== null) rec.worker = r.worker;
      if (r.started !== null) rec.started = r.started;
      if (r.ended !== null) rec.ended = r.ended;
      return rec;
    });
  };
  /** Marks the claim alive; whether it is still this claim's. */
  const beat = async (q: Sql, trial: Trial): Promise<boolean> => {
    const rows = await q`
      UPDATE webgpu_search_trials SET heartbeat = clock_timestamp()
      WHERE study = ${name} AND number = ${trial.number} AND state = 'running'
        AND worker = ${trial.worker} AND attempts = ${trial.attempt}
      RETURNING number`;
    return rows.length === 1;
  };
  const stale = (trial: Trial) => new StaleTrialError(trial.number, trial.attempt, trial.worker);

  return {
    name,
    where,
    definition: def,
    claim(worker: string): Promise<Trial | undefined> {
      return guard("cannot claim a trial", () =>
        sql.begin(async (tx) => {
          const rows = await tx<{ number: number; params: string | null }[]>`
            SELECT number, params FROM webgpu_search_trials
            WHERE study = ${name} AND state = 'queued'
            ORDER BY (params IS NULL), number LIMIT 1 FOR UPDATE SKIP LOCKED`;
          if (!rows.length) return undefined;
          const number = Number(rows[0].number);
          const params = rows[0].params !== null
            ? JSON.parse(rows[0].params) as Record<string, HValue>
            : def.sampler.sample({
              space: def.space,
              number,
              seed: def.seed,
              direction: def.direction,
              history: def.sampler.needsHistory ? await loadAll(tx) : [],
            });
          const [r] = await tx<{ attempts: number }[]>`
            UPDATE webgpu_search_trials SET state = 'running', params = ${JSON.stringify(params)},
              worker = ${worker}, attempts = attempts + 1, heartbeat = clock_timestamp(),
              started = ${new Date().toISOString()}, ended = NULL, value = NULL
            WHERE study = ${name} AND number = ${number} RETURNING attempts`;
          return { number, params, attempt: Number(r.attempts), worker };
        }));
    },
    heartbeat(trial: Trial): Promise<boolean> {
      return guard("cannot heartbeat the trial", () => beat(sql, trial));
    },
    report(trial: Trial, epoch: number, value: number): Promise<Verdict> {
      return guard("cannot report", async () => {
        checkEpoch(epoch);
        return await sql.begin(async (tx) => {
          if (!(await beat(tx, trial))) throw stale(trial);
          await tx`
            INSERT INTO webgpu_search_reports (study, number, epoch, value)
            VALUES (${name}, ${trial.number}, ${epoch}, ${storedValue(value)})
            ON CONFLICT (study, number, epoch) DO UPDATE SET value = excluded.value`;
          return def.pruner.decide(await loadAll(tx), trial.number, epoch, value);
        });
      });
    },
    finish(trial: Trial, state: FinalState, value?: number): Promise<void> {
      return guard("cannot finish the trial", async () => {
        await sql.begin(async (tx) => {
          const reps = await tx<{ epoch: number; value: number | null }[]>`
            SELECT epoch, value FROM webgpu_search_reports
            WHERE study = ${name} AND number = ${trial.number} ORDER BY epoch`;
          const v = finishValue(
            trial,
            state,
            value,
            reps.map((r) => ({ epoch: Number(r.epoch), value: reportValue(r.value) })),
          );
          const rows = await tx`
            UPDATE webgpu_search_trials SET state = ${state}, value = ${v},
              ended = ${new Date().toISOString()}, heartbeat = NULL
            WHERE study = ${name} AND number = ${trial.number} AND state = 'running'
              AND worker = ${trial.worker} AND attempts = ${trial.attempt}
            RETURNING number`;
          if (rows.length !== 1) throw stale(trial);
        });
      });
    },
    release(trial: Trial): Promise<void> {
      return guard("cannot release the trial", async () => {
        await sql.begin(async (tx) => {
          const rows = await tx`
            UPDATE webgpu_search_trials SET state = 'queued', attempts = attempts - 1,
              heartbeat = NULL
            WHERE study = ${name} AND number = ${trial.number} AND state = 'running'
              AND worker = ${trial.worker} AND attempts = ${trial.attempt}
            RETURNING number`;
          if (rows.length !== 1) throw stale(trial);
          await tx`DELETE FROM webgpu_search_reports
            WHERE study = ${name} AND number = ${trial.number}`;
        });
      });
    },
    fail(trial: Trial): Promise<boolean> {
      return guard("cannot fail the trial", async () => {
        return await sql.begin(async (tx) => {
          const rows = await tx<{ state: string }[]>`
            UPDATE webgpu_search_trials SET
              state = CASE WHEN attempts < 2 THEN 'queued' ELSE 'failed' END,
              heartbeat = NULL,
              ended = CASE WHEN attempts < 2 THEN NULL ELSE ${new Date().toISOString()}::text END
            WHERE study = ${name} AND number = ${trial.number} AND state = 'running'
              AND worker = ${trial.worker} AND attempts = ${trial.attempt}
            RETURNING state`;
          if (rows.length !== 1) throw stale(trial);
          if (rows[0].state !== "queued") return false;
          await tx`DELETE FROM webgpu_search_reports
            WHERE study = ${name} AND number = ${trial.number}`;
          return true;
        });
      });
    },
    reapDead(timeoutMs: number, isDead?: (worker: string) => boolean): Promise<ReapedTrial[]> {
      return guard("cannot reap dead trials", async () => {
        checkTimeout(timeoutMs);
        return await sql.begin(async (tx) => {
          type Row = { number: number; worker: string | null; attempts: number; stale: boolean };
          const running = await tx<Row[]>`
            SELECT number, worker, attempts,
              heartbeat <= clock_timestamp() - ${timeoutMs}::float8 * interval '1 millisecond'
                AS stale
            FROM webgpu_search_trials
            WHERE study = ${name} AND state = 'running'
            ORDER BY number FOR UPDATE SKIP LOCKED`;
          const dead = running.filter((d) => d.stale || (isDead?.(d.worker ?? "") ?? false));
          const out: ReapedTrial[] = [];
          for (const d of dead) {
            const requeued = Number(d.attempts) < 2;
            if (requeued) {
              await tx`UPDATE webgpu_search_trials SET state = 'queued', heartbeat = NULL
                WHERE study = ${name} AND number = ${d.number}`;
              await tx`DELETE FROM webgpu_search_reports
                WHERE study = ${name} AND number = ${d.number}`;
            } else {
              await tx`UPDATE webgpu_search_trials SET state = 'failed', heartbeat = NULL,
                ended = ${new Date().toISOString()}
                WHERE study = ${name} AND number = ${d.number}`;
            }
            out.push({ number: Number(d.number), worker: d.worker ?? "", requeued });
          }
          return out;
        });
      });
    },
    trials(): Promise<TrialRecord[]> {
      return guard("cannot read the trials", () => loadAll(sql));
    },
    close: end,
  };
}
