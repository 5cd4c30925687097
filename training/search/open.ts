/**
 * Opens a study wherever it lives: a `postgres://` or `postgresql://` URL is PostgreSQL
 * (workers on many machines), anything else a SQLite file path, and no store at all the
 * output folder's `study.sqlite` (workers on one machine).
 */
import type { Study, StudyDefinition } from "./study.ts";
import { defaultStudyPath, openSqliteStudy } from "./study_sqlite.ts";
import { openPostgresStudy } from "./study_postgres.ts";

/** Whether `store` names a PostgreSQL database rather than a file. */
export function isPostgresUrl(store: string): boolean {
  return /^postgres(ql)?:\/\//i.test(store.trim());
}

/**
 * Opens (creating it with `definition` when missing, else joining) study `name` in
 * `store`: a PostgreSQL URL, a SQLite file, or undefined for `<out>/study.sqlite`.
 */
export function openStudy(
  store: string | undefined,
  out: string,
  name: string,
  definition?: StudyDefinition,
): Promise<Study> {
  if (store && isPostgresUrl(store)) return openPostgresStudy(store.trim(), name, definition);
  return openSqliteStudy(store || defaultStudyPath(out), name, definition);
}
