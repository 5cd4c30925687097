/**
 * The output folder checked while the flags are: `--out` must name a folder that exists
 * or can be made, in a place this process may write. A path under a file, or in a folder
 * the process cannot write, is a user's mistake: refused with one line (exit 2) before any
 * GPU work, not found by the first write after the runs started.
 *
 * @module
 */
import { dirname, resolve } from "node:path";
import { UsageError } from "./pipeline.ts";

/** An OS error's message without its path and error number: "Permission denied". */
function reason(e: unknown): string {
  return ((e as Error)?.message ?? String(e)).split(/ \(os error|:/)[0];
}

/**
 * Throws a UsageError unless `out` (given as `flag`) is a writable folder or can be made
 * one: its nearest existing ancestor must be a folder in which a file can be created (a
 * probe file is made and removed at once; nothing else is written).
 */
export function checkOutFolder(out: string, flag = "--out"): void {
  for (let dir = resolve(out);; dir = dirname(dir)) {
    let info: Deno.FileInfo | null = null;
    try {
      info = Deno.statSync(dir);
    } catch (e) {
      // Missing, or under a file (ENOTDIR): the ancestors say which.
      const missing = e instanceof Deno.errors.NotFound || e instanceof Deno.errors.NotADirectory;
      if (!missing) {
        throw new UsageError(`${flag} ${out}: cannot use ${dir} (${reason(e)})`);
      }
    }
    if (info) {
      if (!info.isDirectory) throw new UsageError(`${flag} ${out}: ${dir} is not a folder`);
      try {
        Deno.removeSync(Deno.makeTempFileSync({ dir, prefix: ".write-check-" }));
      } catch (e) {
        throw new UsageError(`${flag} ${out}: cannot write in ${dir} (${reason(e)})`);
      }
      return;
    }
    if (dirname(dir) === dir) return;
  }
}
