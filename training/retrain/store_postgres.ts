/**
 * The history store for several machines running the same retraining job: a PostgreSQL
 * database (`--store postgres://…`). Table `webgpu_train_cycles` holds the cycles of every
 * registry that shares the database (column `registry`); the lock is a session advisory
 * lock, `pg_try_advisory_lock(hashtext(<registry>))`, taken on one dedicated connection and
 * held until `release()` (or until that connection ends, so a killed holder never leaves it
 * behind). The holder writes its pid, host and start time to `webgpu_train_locks`, which a
 * second cycle reads to name it.
 *
 * A password is never printed or written: `where` and every error message carry the URL
 * as `maskUrl` gives it, and any text from the driver is scrubbed of the URL and of the
 * password (training/postgres.ts, shared with the search studies).
 */
import postgres from "postgres";
import { hostname } from "node:os";
import { UsageError } from "../../core/errors.ts";
import { describeHolder, LockHeldError, type LockInfo } from "../lock.ts";
import type { CycleRecord, Decision, Figures, RetrainStore, StoreLock } from "./store.ts";
import { connectPg, maskUrl, StoreError } from "../postgres.ts";

export { maskUrl, StoreError };

const SCHEMA = [
  `CREATE TABLE IF NOT EXISTS webgpu_train_cycles (
    registry text NOT NULL,
    id text NOT NULL,
    started text NOT NULL,
    ended text,
    fingerprint text NOT NULL,
    files integer NOT NULL,
    decision text NOT NULL,
    reason text NOT NULL,
    candidate jsonb,
    champion jsonb,
    champion_before text,
    champion_after text,
    exit_code integer,
    host text NOT NULL,
    pid integer NOT NULL,
    PRIMARY KEY (registry, id)
  )`,
  `CREATE INDEX IF NOT EXISTS webgpu_train_cycles_started
    ON webgpu_train_cycles (registry, started)`,
  `CREATE TABLE IF NOT EXISTS webgpu_train_locks (
    registry text PRIMARY KEY,
    pid integer NOT NULL,
    host text NOT NULL,
    started text NOT NULL,
    command text NOT NULL DEFAULT ''
  )`,
];

interface Row {
  id: string;
  started: string;
  ended: string | null;
  fingerprint: string;
  files: number;
  decision: string;
  reason: string;
  candidate: Figures | null;
  champion: Figures | null;
  champion_before: string | null;
  champion_after: string | null;
  exit_code: number | null;
  host: string;
  pid: number;
}

function fromRow(r: Row): CycleRecord {
  const c: CycleRecord = {
    id: r.id,
    started: r.started,
    fingerprint: r.fingerprint,
    files: Number(r.files),
    decision: r.decision as Decision,
    reason: r.reason,
    host: r.host,
    pid: Number(r.pid),
  };
  if (r.ended !== null) c.ended = r.ended;
  if (r.candidate !== null) c.candidate = r.candidate;
  if (r.champion !== null) c.champion = r.champion;
  if (r.champion_before !== null) c.championBefore = r.champion_before;
  if (r.champion_after !== null) c.championAfter = r.champion_after;
  if (r.exit_code !== null) c.exitCode = Number(r.exit_code);
  return c;
}

/**
 * Opens the PostgreSQL history at `url` for the registry named `registryKey` (creating the
 * tables when missing). Throws `UsageError` for a malformed URL and `StoreError` (one line,
 * password masked) when the database cannot be reached or refuses the login.
 */
export async function openPostgresStore(url: string, registryKey: string): Promise<RetrainStore> {
  if (!registryKey) throw new UsageError("the PostgreSQL store needs a registry name");
  const { sql, masked, fail, end } = connectPg(url, "webgpu-train retrain");

  try {
    // Two first cycles on fresh machines may create the tables at once: serialize that.
    await sql.begin(async (tx) => {
      await tx`SELECT pg_advisory_xact_lock(hashtext('webgpu_train_cycles'), 0)`;
      for (const ddl of SCHEMA) await tx.unsafe(ddl);
    });
  } catch (e) {
    await end();
    throw fail("cannot open the PostgreSQL history", e);
  }

  const where = `${masked} (registry ${registryKey})`;
  const guard = async <T>(what: string, f: () => Promise<T>): Promise<T> => {
    try {
      return await f();
    } catch (e) {
      if (e instanceof LockHeldError || e instanceof StoreError) throw e;
      throw fail(what, e);
    }
  };
  let current: StoreLock | null = null;
  const holderOf = async (): Promise<LockInfo | null> => {
    const rows = await sql<LockInfo[]>`
      SELECT pid, host, started, command FROM webgpu_train_locks WHERE registry = ${registryKey}`;
    return rows.length ? { ...rows[0], pid: Number(rows[0].pid) } : null;
  };

  return {
    where,
    lock(): Promise<StoreLock> {
      return guard("cannot take the registry's lock", async () => {
        const conn = await sql.reserve();
        let held = false;
        try {
          const [{ ok }] = await conn<{ ok: boolean }[]>`
            SELECT pg_try_advisory_lock(hashtext(${registryKey})) AS ok`;
          if (!ok) {
            const holder = await holderOf().catch(() => null);
            throw new LockHeldError(
              where,
              holder,
              `another cycle holds the advisory lock of registry ${registryKey} in ${masked}` +
                (holder ? `: ${describeHolder(holder)}` : ""),
            );
          }
          held = true;
          const info: LockInfo = {
            pid: Deno.pid,
            host: hostname(),
            started: new Date().toISOString(),
            command: maskUrl(["deno", ...Deno.args].join(" ")),
          };
          await conn`
            INSERT INTO webgpu_train_locks (registry, pid, host, started, command)
            VALUES (${registryKey}, ${info.pid}, ${info.host}, ${info.started}, ${info.command})
            ON CONFLICT (registry) DO UPDATE SET pid = excluded.pid, host = excluded.host,
              started = excluded.started, command = excluded.command`;
        } catch (e) {
          if (held) {
            await conn`SELECT pg_advisory_unlock(hashtext(${registryKey}))`.catch(() => {});
          }
          conn.release();
          throw e;
        }
        let released = false;
        const lock: StoreLock = {
          release: () =>
            guard("cannot release the registry's lock", async () => {
              if (released) return;
              released = true;
              if (current === lock) current = null;
              try {
                // The row is ours while the lock is: remove it before unlocking.
                await conn`DELETE FROM webgpu_train_locks WHERE registry = ${registryKey}`;
                await conn`SELECT pg_advisory_unlock(hashtext(${registryKey}))`;
              } finally {
                conn.release();
              }
            }),
        };
        current = lock;
        return lock;
      });
    },
    record(c: CycleRecord): Promise<void> {
      return guard("cannot record the cycle", async () => {
        const json = (f: Figures | undefined) =>
          f === undefined ? null : sql.json(f as unknown as postgres.JSONValue);
        await sql`
          INSERT INTO webgpu_train_cycles (registry, id, started, ended, fingerprint, files,
            decision, reason, candidate, champion, champion_before, champion_after, exit_code,
            host, pid)
          VALUES (${registryKey}, ${c.id}, ${c.started}, ${c.ended ?? null}, ${c.fingerprint},
            ${c.files}, ${c.decision}, ${c.reason}, ${json(c.candidate)}, ${json(c.champion)},
            ${c.championBefore ?? null}, ${c.championAfter ?? null}, ${c.exitCode ?? null},
            ${c.host}, ${c.pid})
          ON CONFLICT (registry, id) DO UPDATE SET started = excluded.started,
            ended = excluded.ended, fingerprint = excluded.fingerprint, files = excluded.files,
            decision = excluded.decision, reason = excluded.reason,
            candidate = excluded.candidate, champion = excluded.champion,
            champion_before = excluded.champion_before,
            champion_after = excluded.champion_after, exit_code = excluded.exit_code,
            host = excluded.host, pid = excluded.pid`;
      });
    },
    recent(n: number): Promise<CycleRecord[]> {
      return guard("cannot read the history", async () => {
        // LIMIT NULL is no limit (for n = Infinity).
        const limit = Number.isFinite(n) ? Math.max(0, Math.floor(n)) : n > 0 ? null : 0;
        const rows = await sql<Row[]>`
          SELECT * FROM webgpu_train_cycles WHERE registry = ${registryKey}
          ORDER BY started DESC, id DESC LIMIT ${limit}`;
        return rows.map(fromRow);
      });
    },
    get(id: string): Promise<CycleRecord | undefined> {
      return guard("cannot read the history", async () => {
        const rows = await sql<Row[]>`
          SELECT * FROM webgpu_train_cycles WHERE registry = ${registryKey} AND id = ${id}`;
        return rows.length ? fromRow(rows[0]) : undefined;
      });
    },
    lastNumber(): Promise<number> {
      return guard("cannot read the history", async () => {
        const [{ n }] = await sql<{ n: string | null }[]>`
          SELECT max(substring(id FROM '([0-9]+)$')::numeric)::text AS n
          FROM webgpu_train_cycles WHERE registry = ${registryKey}`;
        return n === null ? 0 : Number(n);
      });
    },
    async close(): Promise<void> {
      // A lock still held ends with the store (its connection would end it anyway).
      if (current) await current.release().catch(() => {});
      await end();
    },
  };
}
