/**
 * A retraining registry on disk:
 *
 *   <registry>/candidates/c0001/            one cycle's candidate: an `--out` folder of the
 *                                           pipeline (version_0/run/ holds the run)
 *   <registry>/champion -> candidates/c0003 the champion: a symlink, switched atomically
 *                                           (a new link under a temporary name, renamed
 *                                           over the old one), so a reader never sees a
 *                                           half-promoted model
 *   <registry>/history.sqlite, history.csv  the cycles (see store.ts)
 *
 * and what a cycle computes of it: the training data's fingerprint, the champion's run
 * folder, and retention (the last N candidates kept whole; older champions keep their
 * model.onnx, summary.json, report.html and run.json; the rest is deleted).
 */
import { basename, join, relative } from "node:path";
import type { FileEntry } from "../../stages/types.ts";

/** The folder of candidates. */
export const CANDIDATES = "candidates";
/** The champion link. */
export const CHAMPION = "champion";

/** The candidate id of cycle `n` (`c0007`). */
export function candidateId(n: number): string {
  return `c${String(n).padStart(4, "0")}`;
}

/** A candidate's folder (the pipeline's `--out`). */
export function candidateDir(registry: string, id: string): string {
  return join(registry, CANDIDATES, id);
}

/** The run folder inside a candidate (its single run). */
export function runDirOf(registry: string, id: string): string {
  return join(candidateDir(registry, id), "version_0", "run");
}

/** The champion's id, or undefined when there is none yet. */
export function championId(registry: string): string | undefined {
  try {
    return basename(Deno.readLinkSync(join(registry, CHAMPION)));
  } catch {
    return undefined;
  }
}

/** Makes `id` the champion atomically (a temporary link renamed over `champion`). */
export function setChampion(registry: string, id: string): void {
  const tmp = join(registry, `.${CHAMPION}.tmp-${Deno.pid}`);
  try {
    Deno.removeSync(tmp);
  } catch { /* none left over */ }
  Deno.symlinkSync(join(CANDIDATES, id), tmp);
  Deno.renameSync(tmp, join(registry, CHAMPION));
}

/**
 * The fingerprint of the training data: sha-256 over every file's path (relative to the
 * data folder), size and modification time, or with `content` its bytes' sha-256 instead.
 */
export async function fingerprint(
  root: string,
  files: readonly FileEntry[],
  content = false,
): Promise<string> {
  const lines: string[] = [];
  for (const f of [...files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))) {
    const st = await Deno.stat(f.path);
    const what = content
      ? hex(await crypto.subtle.digest("SHA-256", await Deno.readFile(f.path)))
      : `${st.size} ${st.mtime?.getTime() ?? 0}`;
    lines.push(`${relative(root, f.path)}\t${f.label}\t${what}`);
  }
  return hex(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(lines.join("\n"))));
}

function hex(b: ArrayBuffer): string {
  return [...new Uint8Array(b)].map((x) => x.toString(16).padStart(2, "0")).join("");
}

/** What champions keep once they fall out of the last N candidates. */
const CHAMPION_KEEPS = new Set(["model.onnx", "summary.json", "report.html", "run.json"]);

/**
 * Keeps the last `keep` candidates whole (and the current champion whole); an older
 * candidate that was ever champion keeps only its model.onnx, summary, report and status;
 * any other older candidate is deleted. Returns the ids deleted and pruned.
 */
export async function retain(
  registry: string,
  keep: number,
  everChampion: Set<string>,
): Promise<{ deleted: string[]; pruned: string[] }> {
  const dir = join(registry, CANDIDATES);
  let ids: string[] = [];
  try {
    ids = [...Deno.readDirSync(dir)].filter((e) => e.isDirectory && /^c\d+$/.test(e.name))
      .map((e) => e.name).sort();
  } catch {
    return { deleted: [], pruned: [] };
  }
  const current = championId(registry);
  const old = ids.slice(0, Math.max(0, ids.length - keep)).filter((id) => id !== current);
  const deleted: string[] = [], pruned: string[] = [];
  for (const id of old) {
    if (!everChampion.has(id)) {
      await Deno.remove(join(dir, id), { recursive: true });
      deleted.push(id);
      continue;
    }
    const run = runDirOf(registry, id);
    let removed = false;
    const entries = await Array.fromAsync(Deno.readDir(run)).catch(() => []);
    for (const e of entries) {
      if (CHAMPION_KEEPS.has(e.name)) continue;
      await Deno.remove(join(run, e.name), { recursive: true });
      removed = true;
    }
    if (removed) pruned.push(id);
  }
  return { deleted, pruned };
}
