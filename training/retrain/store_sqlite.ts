/**
 * The default history store: an embedded SQLite database `history.sqlite` in the registry
 * folder (WAL mode, so `--status` can read while a cycle writes), one table `cycles`, and
 * the folder's `.lock` file as the lock. After every record the whole history is also
 * written to `history.csv` (oldest first) for people who open it in a spreadsheet; the CSV
 * is replaced atomically, so a reader never sees half a file, and a text cell that a
 * spreadsheet would run as a formula (an error message starting with `=` or `-`) starts
 * with `'` there (`spreadsheetSafe`).
 */
import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import { acquireLock } from "../lock.ts";
import { csvLine, type CsvValue, spreadsheetSafe } from "../../stages/log/csv.ts";
import { writeTextAtomic } from "../../stages/atomic.ts";
import type { CycleRecord, Decision, Figures, RetrainStore, StoreLock } from "./store.ts";

/** The database's file name in the registry folder. */
export const HISTORY_DB = "history.sqlite";
/** The spreadsheet copy's file name in the registry folder. */
export const HISTORY_CSV = "history.csv";

/** The columns of `history.csv`, in order. */
export const HISTORY_CSV_COLUMNS: readonly string[] = [
  "id",
  "started",
  "ended",
  "decision",
  "reason",
  "candidate_accuracy",
  "champion_accuracy",
  "champion_before",
  "champion_after",
  "fingerprint",
  "files",
  "exit_code",
  "host",
  "pid",
];

const SCHEMA = `
CREATE TABLE IF NOT EXISTS cycles (
  id TEXT PRIMARY KEY,
  started TEXT NOT NULL,
  ended TEXT,
  fingerprint TEXT NOT NULL,
  files INTEGER NOT NULL,
  decision TEXT NOT NULL,
  reason TEXT NOT NULL,
  candidate TEXT,
  champion TEXT,
  champion_before TEXT,
  champion_after TEXT,
  exit_code INTEGER,
  host TEXT NOT NULL,
  pid INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS cycles_started ON cycles (started);
`;

const COLUMNS = [
  "id",
  "started",
  "ended",
  "fingerprint",
  "files",
  "decision",
  "reason",
  "candidate",
  "champion",
  "champion_before",
  "champion_after",
  "exit_code",
  "host",
  "pid",
] as const;

type Row = Record<(typeof COLUMNS)[number], string | number | null>;

/** Newest first: by start time, then id (ISO times of one format sort as text). */
const NEWEST_FIRST = "ORDER BY started DESC, id DESC";

function toRow(c: CycleRecord): Row {
  return {
    id: c.id,
    started: c.started,
    ended: c.ended ?? null,
    fingerprint: c.fingerprint,
    files: c.files,
    decision: c.decision,
    reason: c.reason,
    candidate: c.candidate === undefined ? null : JSON.stringify(c.candidate),
    champion: c.champion === undefined ? null : JSON.stringify(c.champion),
    champion_before: c.championBefore ?? null,
    champion_after: c.championAfter ?? null,
    exit_code: c.exitCode ?? null,
    host: c.host,
    pid: c.pid,
  };
}

function fromRow(r: Row): CycleRecord {
  const c: CycleRecord = {
    id: String(r.id),
    started: String(r.started),
    fingerprint: String(r.fingerprint),
    files: Number(r.files),
    decision: String(r.decision) as Decision,
    reason: String(r.reason),
    host: String(r.host),
    pid: Number(r.pid),
  };
  if (r.ended !== null) c.ended = String(r.ended);
  if (r.candidate !== null) c.candidate = JSON.parse(String(r.candidate)) as Figures;
  if (r.champion !== null) c.champion = JSON.parse(String(r.champion)) as Figures;
  if (r.champion_before !== null) c.championBefore = String(r.champion_before);
  if (r.champion_after !== null) c.championAfter = String(r.champion_after);
  if (r.exit_code !== null) c.exitCode = Number(r.exit_code);
  return c;
}

/** The trailing number of a cycle id (`c0007` → 7; 0 when it has none). */
export function cycleNumber(id: string): number {
  const m = /(\d+)$/.exec(id);
  return m ? Number(m[1]) : 0;
}

/** The `history.csv` text of these records (given oldest first). */
export function historyCsv(records: CycleRecord[]): string {
  const lines = [csvLine([...HISTORY_CSV_COLUMNS])];
  for (const c of records) {
    const cells: CsvValue[] = [
      c.id,
      c.started,
      c.ended,
      c.decision,
      c.reason,
      c.candidate?.accuracy,
      c.champion?.accuracy,
      c.championBefore,
      c.championAfter,
      c.fingerprint,
      c.files,
      c.exitCode,
      c.host,
      c.pid,
    ];
    lines.push(csvLine(cells.map(spreadsheetSafe)));
  }
  return lines.join("\n") + "\n";
}

/**
 * Opens (creating when missing) the SQLite history of the registry at `registryDir`.
 * `lock()` takes the folder's `.lock` file (`LockHeldError`, exit code 3, naming the holder
 * when a live process has it); every `record()` also rewrites `history.csv`.
 */
export async function openSqliteStore(registryDir: string): Promise<RetrainStore> {
  await Deno.mkdir(registryDir, { recursive: true });
  const dbPath = join(registryDir, HISTORY_DB);
  const csvPath = join(registryDir, HISTORY_CSV);
  const db = new DatabaseSync(dbPath);
  try {
    db.exec("PRAGMA journal_mode = WAL");
    db.exec("PRAGMA busy_timeout = 10000");
    db.exec(SCHEMA);
  } catch (e) {
    db.close();
    throw new Error(`cannot open the history ${dbPath}: ${(e as Error).message}`);
  }
  const upsert = db.prepare(
    `INSERT INTO cycles (${COLUMNS.join(", ")}) VALUES (${COLUMNS.map(() => "?").join(", ")})
     ON CONFLICT (id) DO UPDATE SET ${
      COLUMNS.filter((c) => c !== "id").map((c) => `${c} = excluded.${c}`).join(", ")
    }`,
  );
  const selectAll = db.prepare(`SELECT * FROM cycles ORDER BY started ASC, id ASC`);
  const selectRecent = db.prepare(`SELECT * FROM cycles ${NEWEST_FIRST} LIMIT ?`);
  const selectOne = db.prepare(`SELECT * FROM cycles WHERE id = ?`);
  const selectIds = db.prepare(`SELECT id FROM cycles`);
  let closed = false;

  return {
    where: dbPath,
    lock(): Promise<StoreLock> {
      // Synchronous file lock; a held lock rejects with `LockHeldError`.
      try {
        const held = acquireLock(registryDir);
        let released = false;
        return Promise.resolve({
          release(): Promise<void> {
            if (!released) {
              released = true;
              held.release();
            }
            return Promise.resolve();
          },
        });
      } catch (e) {
        return Promise.reject(e);
      }
    },
    async record(c: CycleRecord): Promise<void> {
      const row = toRow(c);
      upsert.run(...COLUMNS.map((k) => row[k]));
      const all = (selectAll.all() as Row[]).map(fromRow);
      await writeTextAtomic(csvPath, historyCsv(all));
    },
    recent(n: number): Promise<CycleRecord[]> {
      // SQLite's LIMIT -1 is no limit (for n = Infinity).
      const limit = Number.isFinite(n) ? Math.max(0, Math.floor(n)) : n > 0 ? -1 : 0;
      return Promise.resolve((selectRecent.all(limit) as Row[]).map(fromRow));
    },
    get(id: string): Promise<CycleRecord | undefined> {
      const r = selectOne.get(id) as Row | undefined;
      return Promise.resolve(r ? fromRow(r) : undefined);
    },
    lastNumber(): Promise<number> {
      const ids = selectIds.all() as { id: string }[];
      return Promise.resolve(ids.reduce((m, r) => Math.max(m, cycleNumber(String(r.id))), 0));
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
