/**
 * A study in an embedded SQLite file (default `<out>/study.sqlite`), shared by the worker
 * processes of one machine: WAL mode (readers never wait for the writer), a busy timeout
 * (writers wait their turn rather than fail), and every operation that reads then writes
 * (claim, report, finish, release, reapDead) inside ONE `BEGIN IMMEDIATE` transaction, so
 * two workers never claim the same trial. One file may hold several studies (by name).
 * Heartbeats are this machine's clock, in milliseconds.
 *
 * Every call runs synchronously inside (node:sqlite is synchronous), so several study
 * objects on the same file in one process never hold a transaction across an `await`.
 */
import { DatabaseSync, type StatementSync } from "node:sqlite";
import { dirname, join } from "node:path";
import { UsageError } from "../../core/errors.ts";
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

/** The study file's name in the output folder. */
export const STUDY_DB = "study.sqlite";

/** The default study file of an output folder: `<out>/study.sqlite`. */
export function defaultStudyPath(out: string): string {
  return join(out, STUDY_DB);
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS studies (
  name TEXT PRIMARY KEY,
  definition TEXT NOT NULL,
  created TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS trials (
  study TEXT NOT NULL,
  number INTEGER NOT NULL,
  state TEXT NOT NULL,
  params TEXT,
  value REAL,
  worker TEXT,
  attempts INTEGER NOT NULL DEFAULT 0,
  heartbeat INTEGER,
  started TEXT,
  ended TEXT,
  PRIMARY KEY (study, number)
);
CREATE INDEX IF NOT EXISTS trials_state ON trials (study, state, number);
CREATE TABLE IF NOT EXISTS reports (
  study TEXT NOT NULL,
  number INTEGER NOT NULL,
  epoch INTEGER NOT NULL,
  value REAL,
  PRIMARY KEY (study, number, epoch)
);
`;

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

/** A trial row and its reports as a record. */
function toRecord(r: TrialRow, reports: { epoch: number; value: number | null }[]): TrialRecord {
  const t: TrialRecord = {
    number: Number(r.number),
    state: r.state as TrialState,
    reports: reports.map((x) => ({ epoch: Number(x.epoch), value: reportValue(x.value) })),
    attempts: Number(r.attempts),
  };
  if (r.params !== null) t.params = JSON.parse(r.params) as Record<string, HValue>;
  if (r.value !== null) t.value = Number(r.value);
  if (r.worker !== null) t.worker = r.worker;
  if (r.started !== null) t.started = r.started;
  if (r.ended !== null) t.ended = r.ended;
  return t;
}

/**
 * Opens study `name` in the SQLite file `path` (created when missing, with its folder). With
 * a definition, creates the study or joins it (`UsageError` naming the differences when the
 * stored one differs); without, joins the stored study (`UsageError` when there is none).
 */
export async function openSqliteStudy(
  path: string,
  name: string,
  definition?: StudyDefinition,
): Promise<Study> {
  checkStudyName(name);
  if (definition) checkDefinition(definition);
  await Deno.mkdir(dirname(path), { recursive: true });
  const db = new DatabaseSync(path);
  const tx = <T>(f: () => T): T => {
    db.exec("BEGIN IMMEDIATE");
    try {
      const r = f();
      db.exec("COMMIT");
      return r;
    } catch (e) {
      try {
        db.exec("ROLLBACK");
      } catch { /* the transaction is gone already */ }
      throw e;
    }
  };
  let def: StudyDefinition;
  try {
    db.exec("PRAGMA busy_timeout = 30000");
    db.exec("PRAGMA journal_mode = WAL");
    db.exec(SCHEMA);
    def = tx(() => {
      const row = db.prepare("SELECT definition FROM studies WHERE name = ?").get(name) as
        | { definition: string }
        | undefined;
      if (row) {
        const stored = definitionFromJson(row.definition);
        if (definition) checkSameStudy(name, path, stored, definition);
        return stored;
      }
      if (!definition) {
        throw new UsageError(`--study: there is no study "${name}" in ${path} to join`);
      }
      db.prepare("INSERT INTO studies (name, definition, created) VALUES (?, ?, ?)")
        .run(name, JSON.stringify(storedDefinition(definition)), new Date().toISOString());
      const add = db.prepare("INSERT INTO trials (study, number, state) VALUES (?, ?, 'queued')");
      for (let n = 0; n < definition.nTrials; n++) add.run(name, n);
      return definitionFromJson(JSON.stringify(storedDefinition(definition)));
    });
  } catch (e) {
    db.close();
    if (e instanceof UsageError) throw e;
    throw new Error(`cannot open the study ${path}: ${(e as Error).message}`);
  }

  const q = (sql: string): StatementSync => db.prepare(sql);
  const selTrials = q("SELECT * FROM trials WHERE study = ? ORDER BY number");
  const selReports = q(
    "SELECT number, epoch, value FROM reports WHERE study = ? ORDER BY number, epoch",
  );
  const selOwnReports = q(
    "SELECT epoch, value FROM reports WHERE study = ? AND number = ? ORDER BY epoch",
  );
  const selQueued = q(
    `SELECT number, params FROM trials WHERE study = ? AND state = 'queued'
     ORDER BY params IS NULL, number LIMIT 1`,
  );
  const updClaim = q(
    `UPDATE trials SET state = 'running', params = ?, worker = ?, attempts = attempts + 1,
       heartbeat = ?, started = ?, ended = NULL, value = NULL
     WHERE study = ? AND number = ? RETURNING attempts`,
  );
  const OWNED = "study = ? AND number = ? AND state = 'running' AND worker = ? AND attempts = ?";
  const updBeat = q(`UPDATE trials SET heartbeat = ? WHERE ${OWNED}`);
  const upsertReport = q(
    `INSERT INTO reports (study, number, epoch, value) VALUES (?, ?, ?, ?)
     ON CONFLICT (study, number, epoch) DO UPDATE SET value = excluded.value`,
  );
  const updFinish = q(
    `UPDATE trials SET state = ?, value = ?, ended = ?, heartbeat = NULL WHERE ${OWNED}`,
  );
  const updRelease = q(
    `UPDATE trials SET state = 'queued', attempts = attempts - 1, heartbeat = NULL
     WHERE ${OWNED}`,
  );
  const delReports = q("DELETE FROM reports WHERE study = ? AND number = ?");
  const updRetry = q(
    `UPDATE trials SET state = CASE WHEN attempts < 2 THEN 'queued' ELSE 'failed' END,
       heartbeat = NULL, ended = CASE WHEN attempts < 2 THEN NULL ELSE ? END
     WHERE ${OWNED} RETURNING state`,
  );
  const selRunning = q(
    `SELECT number, worker, attempts, heartbeat <= ? AS stale FROM trials
     WHERE study = ? AND state = 'running' ORDER BY number`,
  );
  const updRequeue = q(
    "UPDATE trials SET state = 'queued', heartbeat = NULL WHERE study = ? AND number = ?",
  );
  const updFail = q(
    `UPDATE trials SET state = 'failed', heartbeat = NULL, ended = ?
     WHERE study = ? AND number = ?`,
  );

  const loadAll = (): TrialRecord[] => {
    const reports = new Map<number, { epoch: number; value: number | null }[]>();
    for (
      const r of selReports.all(name) as { number: number; epoch: number; value: number | null }[]
    ) {
      const list = reports.get(Number(r.number)) ?? [];
      list.push(r);
      reports.set(Number(r.number), list);
    }
    return (selTrials.all(name) as unknown as TrialRow[]).map((r) =>
      toRecord(r, reports.get(Number(r.number)) ?? [])
    );
  };
  /** `f()` as a promise: a throw becomes a rejection. */
  const settle = <T>(f: () => T): Promise<T> => {
    try {
      return Promise.resolve(f());
    } catch (e) {
      return Promise.reject(e);
    }
  };
  const owned = (t: Trial) => [name, t.number, t.worker, t.attempt] as const;
  let closed = false;

  return {
    name,
    where: path,
    definition: def,
    claim(worker: string): Promise<Trial | undefined> {
      return settle(() =>
        tx(() => {
          const row = selQueued.get(name) as { number: number; params: string | null } | undefined;
          if (!row) return undefined;
          const number = Number(row.number);
          const params = row.params !== null
            ? JSON.parse(row.params) as Record<string, HValue>
            : def.sampler.sample({
              space: def.space,
              number,
              seed: def.seed,
              direction: def.direction,
              history: def.sampler.needsHistory ? loadAll() : [],
            });
          const r = updClaim.get(
            JSON.stringify(params),
            worker,
            Date.now(),
            new Date().toISOString(),
            name,
            number,
          ) as { attempts: number };
          return { number, params, attempt: Number(r.attempts), worker };
        })
      );
    },
    heartbeat(trial: Trial): Promise<boolean> {
      return settle(() => Number(updBeat.run(Date.now(), ...owned(trial)).changes) === 1);
    },
    report(trial: Trial, epoch: number, value: number): Promise<Verdict> {
      return settle(() =>
        tx(() => {
          checkEpoch(epoch);
          if (Number(updBeat.run(Date.now(), ...owned(trial)).changes) !== 1) {
            throw new StaleTrialError(trial.number, trial.attempt, trial.worker);
          }
          upsertReport.run(name, trial.number, epoch, storedValue(value));
          return def.pruner.decide(loadAll(), trial.number, epoch, value);
        })
      );
    },
    finish(trial: Trial, state: FinalState, value?: number): Promise<void> {
      return settle(() =>
        tx(() => {
          const reports = (selOwnReports.all(name, trial.number) as {
            epoch: number;
            value: number | null;
          }[]).map((r) => ({ epoch: r.epoch, value: reportValue(r.value) }));
          const v = finishValue(trial, state, value, reports);
          const done = updFinish.run(state, v, new Date().toISOString(), ...owned(trial));
          if (Number(done.changes) !== 1) {
            throw new StaleTrialError(trial.number, trial.attempt, trial.worker);
          }
        })
      );
    },
    release(trial: Trial): Promise<void> {
      return settle(() =>
        tx(() => {
          if (Number(updRelease.run(...owned(trial)).changes) !== 1) {
            throw new StaleTrialError(trial.number, trial.attempt, trial.worker);
          }
          delReports.run(name, trial.number);
        })
      );
    },
    fail(trial: Trial): Promise<boolean> {
      return settle(() =>
        tx(() => {
          const r = updRetry.get(new Date().toISOString(), ...owned(trial)) as
            | { state: string }
            | undefined;
          if (!r) throw new StaleTrialError(trial.number, trial.attempt, trial.worker);
          if (r.state === "queued") delReports.run(name, trial.number);
          return r.state === "queued";
        })
      );
    },
    reapDead(timeoutMs: number, isDead?: (worker: string) => boolean): Promise<ReapedTrial[]> {
      return settle(() =>
        tx(() => {
          checkTimeout(timeoutMs);
          const running = selRunning.all(Date.now() - timeoutMs, name) as {
            number: number;
            worker: string | null;
            attempts: number;
            stale: number;
          }[];
          const dead = running.filter((d) => d.stale || (isDead?.(d.worker ?? "") ?? false));
          const now = new Date().toISOString();
          return dead.map((d) => {
            const requeued = Number(d.attempts) < 2;
            if (requeued) {
              updRequeue.run(name, d.number);
              delReports.run(name, d.number);
            } else updFail.run(now, name, d.number);
            return { number: Number(d.number), worker: d.worker ?? "", requeued };
          });
        })
      );
    },
    trials(): Promise<TrialRecord[]> {
      return settle(loadAll);
    },
    close(): Promise<void> {
      if (!closed) {
        closed = true;
        db.close();
      }
      return Promise.resolve();
    },
  };
}
