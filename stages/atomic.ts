/**
 * Atomic file writes: a temporary file beside the target, fsync, rename over the final
 * name, fsync of the folder. A crash at any moment leaves the old file or the new one
 * under the final name, never half of one; temporaries of killed writers are found by
 * their name and removed.
 */
import { basename, dirname, join } from "node:path";

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
  const f = await Deno.open(tmp, { write: true, createNew: true, mode: 0o644 });
  let written = 0;
  try {
    for (const c of chunks) {
      for (let off = 0; off < c.length;) off += await f.write(c.subarray(off));
      written += c.length;
      await opts.afterChunk?.(written, tmp);
    }
    await f.sync();
  } catch (e) {
    f.close();
    await Deno.remove(tmp).catch(() => {});
    throw e;
  }
  f.close();
  await Deno.rename(tmp, path);
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
