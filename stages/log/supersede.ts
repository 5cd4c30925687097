/**
 * One clean TensorBoard run per run folder across resumes.
 *
 * A run resumed after a kill replays the epochs (and steps) after its last checkpoint, so a
 * second event file beside the first would hold those steps twice: TensorBoard's Python
 * loader (`--load_fast=false`, the `EventAccumulator`) then plots both points, the line going
 * back in time. So a resumed run's writer starts a new file that supersedes the folder's
 * earlier ones: it carries over their events up to the resume point (raw, with their wall
 * times), then replaces them. The new file is written under a hidden name, synced, renamed
 * into place (atomically replacing an old file of the same name), and only then are the
 * other old files removed. Should the process die between the rename and a removal, the next
 * resume reads the leftover copies again and drops byte-identical events, so nothing shows
 * twice.
 */
import { join } from "node:path";
import { EventWriter, type EventWriterOptions, STAGED_PREFIX } from "./tfevents.ts";
import { eventFiles, readEventFile, type StoredEvent } from "./tfevents_read.ts";
import { EXPERIMENT_TAG, SESSION_END_TAG, SESSION_START_TAG } from "./hparams_plugin.ts";

/** The summaries a run writes once (hyper-parameter text, hparams session start, experiment). */
export const ONCE_TAGS: ReadonlySet<string> = new Set([
  "hparams",
  SESSION_START_TAG,
  EXPERIMENT_TAG,
]);

/** What of the earlier event files a resumed run keeps. */
export interface KeepRule {
  /** Events on the epoch axis are kept up to this step: the last epoch logged before (0: none). */
  lastEpoch: number;
  /** Events whose tags are all in `stepTags` (the global-step axis) are kept below this step. */
  stepCut: number;
  /** Tags written at the global step rather than the epoch. */
  stepTags: ReadonlySet<string>;
}

/** The new writer and what it carried over. */
export interface Superseded {
  /** The run's writer (published: visible to TensorBoard). */
  writer: EventWriter;
  /** The once-per-run tags the carried events already hold. */
  carried: Set<string>;
  /** Events carried over. */
  kept: number;
  /** Events left behind (replayed later, session ends, duplicates). */
  dropped: number;
  /** The earlier files, now removed. */
  removed: string[];
}

/** Whether an earlier event is kept (`carried` grows with the once-per-run tags kept). */
export function keepEvent(e: StoredEvent, rule: KeepRule, carried: Set<string>): boolean {
  if (e.fileVersion || e.tags.includes(SESSION_END_TAG)) return false;
  const once = e.tags.filter((t) => ONCE_TAGS.has(t));
  if (once.length) {
    if (once.every((t) => carried.has(t))) return false;
    once.forEach((t) => carried.add(t));
    return true;
  }
  if (e.tags.length && e.tags.every((t) => rule.stepTags.has(t))) return e.step < rule.stepCut;
  return e.step <= rule.lastEpoch;
}

async function digest(data: Uint8Array<ArrayBuffer>): Promise<string> {
  const h = new Uint8Array(await crypto.subtle.digest("SHA-256", data));
  return Array.from(h, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Removes staged files a process that died before publishing left in `dir`. */
async function removeStale(dir: string): Promise<void> {
  try {
    for await (const e of Deno.readDir(dir)) {
      if (e.isFile && e.name.startsWith(STAGED_PREFIX)) {
        await Deno.remove(join(dir, e.name)).catch(() => {});
      }
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
}

/**
 * Opens the run folder's event writer: a plain new file when the folder has none, else a
 * file that carries over the earlier files' events by `rule` and replaces them. Staged files
 * left by a process that died before publishing are removed.
 */
export async function openRunEvents(
  dir: string,
  rule: KeepRule,
  opts: EventWriterOptions = {},
): Promise<Superseded> {
  await removeStale(dir);
  const old = await eventFiles(dir);
  const carried = new Set<string>();
  if (!old.length) {
    const writer = await EventWriter.create(dir, opts);
    return { writer, carried, kept: 0, dropped: 0, removed: [] };
  }
  const writer = await EventWriter.create(dir, { ...opts, staged: true });
  const seen = new Set<string>();
  let kept = 0, dropped = 0;
  try {
    for (const path of old) {
      for (const e of (await readEventFile(path)).events) {
        const key = await digest(e.data);
        if (!seen.has(key) && keepEvent(e, rule, carried)) {
          writer.writeData(e.data);
          kept++;
        } else if (!e.fileVersion) dropped++;
        seen.add(key);
      }
    }
    await writer.publish();
  } catch (e) {
    await writer.discard();
    throw e;
  }
  for (const path of old) {
    if (path === writer.path) continue;
    await Deno.remove(path).catch((e) => {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    });
  }
  return { writer, carried, kept, dropped, removed: old };
}
