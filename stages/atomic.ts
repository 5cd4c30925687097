/**
 * Atomic file writes: a temporary file beside the target, fsync, rename over the final
 * name, fsync of the folder. A crash at any moment leaves the old file or the new one
 * under the final name, never half of one; temporaries of killed writers are found by
 * their name and removed. Appends go in whole or not at all: a failed one (a full disk)
 * cuts the file back to its old length. A failed write throws a `WriteError` naming the
 * file.
 */
import { basename, dirname, join } from "node:path";

/** A write that failed: names the file, and says so plainly when the disk is full. */
export class WriteError extends Error {
  constructor(
    /** The file that was being written. */
    readonly path: string,
    /** The device was full (ENOSPC) or the disk quota spent (EDQUOT). */
    readonly noSpace: boolean,
    cause: unknown,
  ) {
    super(
      noSpace
        ? `no space left on device writing ${path}`
        : `could not write ${path}: ${(cause as Error)?.message ?? cause}`,
      { cause },
    );
    this.name = "WriteError";
  }
}

/** Whether `e` is the operating system's "no space left" (ENOSPC, EDQUOT). */
export function isNoSpace(e: unknown): boolean {
  if (e instanceof WriteError) return e.noSpace;
  const code = (e as { code?: string })?.code;
  return code === "ENOSPC" || code === "EDQUOT" ||
    /\(os error (28|122)\)/.test((e as Error)?.message ?? "");
}

/** `e` as a WriteError for `path` (unchanged when it already is one). */
export function writeError(path: string, e: unknown): WriteError {
  return e instanceof WriteError ? e : new WriteError(path, isNoSpace(e), e);
}

/**
 * Appends `bytes` to `path` (created when missing) whole or not at all: when a write fails
 * part-way (a full disk), the file is cut back to its old length and a `WriteError` thrown,
 * so a CSV or JSON-lines file never keeps half a line. One writer at a time (the callers
 * own the file or hold its lock).
 */
export async function appendWhole(path: string, bytes: Uint8Array): Promise<void> {
  let f: Deno.FsFile;
  try {
    f = await Deno.open(path, { write: true, create: true });
  } catch (e) {
    throw writeError(path, e);
  }
  try {
    const old = (await f.stat()).size;
    await f.seek(old, Deno.SeekMode.Start);
    try {
      for (let off = 0; off < bytes.length;) off += await f.write(bytes.subarray(off));
    } catch (e) {
      await f.truncate(old).catch(() => {});
      throw writeError(path, e);
    }
  } finally {
    f.close();
  }
}

/** Options of an atomic write. */
export interface AtomicWriteOptions {
  /** Called after each chunk reaches the temporary file (progress reporting, tests). */
  afterChunk?: (bytesWritten: number, tmpPath: string) => void | Promise<void>;
}

/**
 * Writes `chunks` to `path` atomically: a temporary file beside it, fsync, rename, and an
 * fsync of the folder. On failure the temporary file is removed and `path` is untouched.
 */
export async function writeFileAtomic(
  path: string,
  chunks: Uint8Array[],
  opts: AtomicWriteOptions = {},
): Promise<void> {
  const dir = dirname(path);
  const rand = crypto.getRandomValues(new Uint32Array(1))[0].toString(36);
  const tmp = join(dir, `.${basename(path)}.tmp-${Deno.pid}-${rand}`);
  let f: Deno.FsFile;
  try {
    f = await Deno.open(tmp, { write: true, createNew: true, mode: 0o644 });
  } catch (e) {
    throw writeError(path, e);
  }
  let written = 0;
  try {
    for (const c of chunks) {
      for (let off = 0; off < c.length;) off += await f.write(c.subarray(off));
      written += c.length;
      await opts.afterChunk?.(written, tmp);
    }
    await f.sync();
    f.close();
    await Deno.rename(tmp, path);
  } catch (e) {
    try {
      f.close();
    } catch { /* closed before the rename */ }
    await Deno.remove(tmp).catch(() => {});
    throw writeError(path, e);
  }
  try {
    const d = await Deno.open(dir, { read: true });
    try {
      await d.sync();
    } finally {
      d.close();
    }
  } catch {
    // Some file systems cannot fsync a folder; the rename itself is still atomic.
  }
}

/** `writeFileAtomic` of a string (UTF-8). */
export function writeTextAtomic(path: string, text: string): Promise<void> {
  return writeFileAtomic(path, [new TextEncoder().encode(text)]);
}

/** Removes temporary files left in `dir` by writers that were killed; returns their names. */
export async function removeStaleTemps(dir: string): Promise<string[]> {
  const removed: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    const m = /^\..+\.tmp-(\d+)-[0-9a-z]+$/.exec(e.name);
    if (!e.isFile || !m || Number(m[1]) === Deno.pid) continue;
    await Deno.remove(join(dir, e.name)).catch(() => {});
    removed.push(e.name);
  }
  return removed;
}
