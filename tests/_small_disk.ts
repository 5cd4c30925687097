/**
 * A small real file system for tests of a full disk: a tmpfs of a given size mounted on a
 * temporary folder (needs root and `mount`, as in CI; `SMALL_DISK_MISSING` says why not
 * otherwise, and those tests are skipped). `fill()` takes every free byte with a filler
 * file, `leave(bytes)` frees about that much of it again, `free()` removes it.
 */

const dec = new TextDecoder();

function mount(args: string[]): { ok: boolean; err: string } {
  try {
    const r = new Deno.Command("mount", { args, stdout: "null", stderr: "piped" }).outputSync();
    return { ok: r.success, err: dec.decode(r.stderr).trim() };
  } catch (e) {
    return { ok: false, err: (e as Error).message };
  }
}

function umount(dir: string): void {
  try {
    new Deno.Command("umount", { args: ["-l", dir], stdout: "null", stderr: "null" }).outputSync();
    Deno.removeSync(dir, { recursive: true });
  } catch { /* already gone */ }
}

const mounted = new Set<string>();
globalThis.addEventListener("unload", () => mounted.forEach(umount));

/** Why no small disk can be mounted here, or null when one can. */
export const SMALL_DISK_MISSING: string | null = (() => {
  const dir = Deno.makeTempDirSync({ prefix: "small_disk_probe_" });
  const r = mount(["-t", "tmpfs", "-o", "size=64k", "tmpfs", dir]);
  if (r.ok) umount(dir);
  else Deno.removeSync(dir, { recursive: true });
  return r.ok ? null : `cannot mount a tmpfs: ${r.err}`;
})();

/** For `Deno.test({ ignore })`: true, saying why on stderr, when no small disk can be mounted. */
export function noSmallDisk(): boolean {
  if (SMALL_DISK_MISSING !== null) console.error(`skipped: ${SMALL_DISK_MISSING}`);
  return SMALL_DISK_MISSING !== null;
}

/** A mounted small disk. */
export interface SmallDisk extends AsyncDisposable {
  /** Its mount point. */
  dir: string;
  /** Takes every free byte with a filler file. */
  fill(): Promise<void>;
  /** Shrinks the filler so that about `bytes` are free (whole pages). */
  leave(bytes: number): Promise<void>;
  /** Removes the filler. */
  free(): Promise<void>;
}

/** Mounts a tmpfs of `bytes` on a new temporary folder; unmounted when disposed. */
export function smallDisk(bytes: number): SmallDisk {
  const dir = Deno.makeTempDirSync({ prefix: "small_disk_" });
  const r = mount(["-t", "tmpfs", "-o", `size=${bytes}`, "tmpfs", dir]);
  if (!r.ok) throw new Error(`smallDisk: mount failed: ${r.err}`);
  mounted.add(dir);
  const filler = `${dir}/.filler`;
  return {
    dir,
    async fill() {
      const f = await Deno.open(filler, { write: true, create: true, append: true });
      const chunk = new Uint8Array(1 << 16);
      try {
        for (;;) await f.write(chunk);
      } catch (e) {
        if (!/os error 28/.test((e as Error).message)) throw e;
      } finally {
        f.close();
      }
      // The last partial chunk may have left a few bytes of a page.
      const tail = await Deno.open(filler, { write: true, append: true });
      try {
        for (;;) await tail.write(new Uint8Array(1));
      } catch {
        /* full */
      } finally {
        tail.close();
      }
    },
    async leave(n) {
      const size = (await Deno.stat(filler)).size;
      await Deno.truncate(filler, Math.max(0, size - n));
    },
    async free() {
      await Deno.remove(filler).catch(() => {});
    },
    [Symbol.asyncDispose]() {
      mounted.delete(dir);
      umount(dir);
      return Promise.resolve();
    },
  };
}
