/**
 * The frozen-feature backend's verdict, remembered per machine and model: the probe
 * (`selectFeatureBackend`, which loads every backend and measures it) runs once, and later
 * runs open only the backend it chose. The verdict lives in the user's cache folder
 * (`$XDG_CACHE_HOME/webgpu-train/feature-backends.json`, else `~/.cache/…`), keyed by the
 * host, the GPU adapter, Deno's version, the model file (path, size, modification time)
 * and what the run freezes. `--features probe` measures again; `--features <kind>` forces one.
 */
import { hostname } from "node:os";
import { join, resolve } from "node:path";
import { gpu } from "../core/gpu.ts";
import type { FeatureBackendKind } from "./features.ts";
import { writeTextAtomic } from "../stages/atomic.ts";

/** A remembered verdict. */
export interface BackendVerdict {
  kind: FeatureBackendKind;
  measured: string;
  /** Images per second of each usable backend, as measured. */
  trials: Record<string, number | string>;
}

function cacheFile(): string | undefined {
  const base = Deno.env.get("XDG_CACHE_HOME") ??
    (Deno.env.get("HOME") ? join(Deno.env.get("HOME")!, ".cache") : undefined);
  return base ? join(base, "webgpu-train", "feature-backends.json") : undefined;
}

/** The key of a model on this machine (call after `initGpu`). */
export function verdictKey(weights: string, what: Record<string, unknown>): string {
  let size = 0, mtime = 0;
  try {
    const st = Deno.statSync(weights);
    size = st.size;
    mtime = st.mtime?.getTime() ?? 0;
  } catch { /* an unreadable file fails elsewhere */ }
  const a = gpu().info;
  return JSON.stringify({
    host: hostname(),
    adapter: `${a.vendor}/${a.architecture}/${a.device}/${a.description}`,
    deno: Deno.version.deno,
    model: resolve(weights),
    size,
    mtime,
    ...what,
  });
}

async function readAll(file: string): Promise<Record<string, BackendVerdict>> {
  try {
    return JSON.parse(await Deno.readTextFile(file));
  } catch {
    return {};
  }
}

/** The remembered verdict for `key`, if any. */
export async function recall(key: string): Promise<BackendVerdict | undefined> {
  const file = cacheFile();
  return file ? (await readAll(file))[key] : undefined;
}

/** Remembers a verdict (best effort: a read-only cache folder only costs a probe next time). */
export async function remember(key: string, v: BackendVerdict): Promise<void> {
  const file = cacheFile();
  if (!file) return;
  try {
    await Deno.mkdir(join(file, ".."), { recursive: true });
    const all = await readAll(file);
    all[key] = v;
    await writeTextAtomic(file, JSON.stringify(all, null, 2) + "\n");
  } catch { /* see above */ }
}
