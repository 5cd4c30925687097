/**
 * The history store of a retraining registry: the lock that lets one cycle run at a time and
 * the record of every cycle. Two implementations: an embedded SQLite database in the
 * registry folder (the default; the lock is the folder's `.lock` file) and PostgreSQL for
 * several machines running the same job (`--store postgres://…`; the lock is a PostgreSQL
 * advisory lock, so exactly one cycle runs at a time across machines).
 */

/** What a cycle decided. */
export type Decision =
  | "promoted"
  | "kept"
  | "skipped"
  | "failed"
  | "interrupted"
  | "rollback"
  | "running";

/** One cycle (or a rollback) as the history holds it. */
export interface CycleRecord {
  /** Unique id (`c0007`): the candidate's folder under `candidates/`. */
  id: string;
  /** ISO times. */
  started: string;
  ended?: string;
  /** Data fingerprint (hex sha-256) and how many files it covered. */
  fingerprint: string;
  files: number;
  decision: Decision;
  /** One line saying why (shown by `--status`). */
  reason: string;
  /** The candidate's hold-out figures (undefined when it was not evaluated). */
  candidate?: Figures;
  /** The champion's hold-out figures in the same cycle. */
  champion?: Figures;
  /** The champion's id before this cycle, and after it. */
  championBefore?: string;
  championAfter?: string;
  /** The process's exit code. */
  exitCode?: number;
  host: string;
  pid: number;
}

/** Hold-out figures of one model. */
export interface Figures {
  accuracy: number;
  loss: number;
  /** Recall per class name. */
  recall: Record<string, number>;
  count: number;
}

/** A held lock. */
export interface StoreLock {
  release(): Promise<void>;
}

/** The store's operations. */
export interface RetrainStore {
  /** What `--status` shows as where the history lives (a password is never in it). */
  readonly where: string;
  /**
   * Takes the registry's lock for one cycle; throws `LockHeldError` (exit code 3), naming
   * the holder where the store knows it, when another cycle holds it.
   */
  lock(): Promise<StoreLock>;
  /** Inserts the record, or replaces the one with the same id. */
  record(c: CycleRecord): Promise<void>;
  /** The last `n` records, newest first. */
  recent(n: number): Promise<CycleRecord[]>;
  /** The record with this id. */
  get(id: string): Promise<CycleRecord | undefined>;
  /** The highest cycle number used so far (0 for none). */
  lastNumber(): Promise<number>;
  close(): Promise<void>;
}
