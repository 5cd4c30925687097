/**
 * The lock of an output folder: a file `.lock` created exclusively (it either appears whole
 * or not at all), holding the holder's pid, host, start time and command. A second process
 * that finds it held by a live process gets a `LockHeldError` (exit code 3) naming the
 * holder; a lock whose process is dead on this host is taken over, with a line saying so.
 * A lock written on another host cannot be checked from here and is never taken over.
 */
import { hostname } from "node:os";
import { join } from "node:path";
import { writeError } from "../stages/atomic.ts";

/** What a lock file holds. */
export interface LockInfo {
  /** The holder's process id. */
  pid: number;
  /** The holder's host name (a dead holder is taken over only on the same host). */
  host: string;
  /** ISO time the holder took the lock. */
  started: string;
  /** The holder's command line. */
  command: string;
}

/** The lock is held by a live process (exit code 3). */
export class LockHeldError extends Error {
  /** Always "LockHeldError". */
  override name = "LockHeldError";
  /** `path`: the lock file; `holder`: what it holds (null when unreadable); `what`: the message. */
  constructor(readonly path: string, readonly holder: LockInfo | null, what: string) {
    super(what);
  }
}

/** A held lock; `release()` removes the file (only if it is still ours). */
export interface Lock {
  /** The lock file, `<dir>/.lock`. */
  readonly path: string;
  /** What this process wrote into it. */
  readonly info: LockInfo;
  /** Removes the lock file, only if it still holds this process's pid. */
  release(): void;
}

/** The file name of a folder's lock. */
export const LOCK_FILE = ".lock";

/** Whether a process with this pid exists on this host. */
export function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  if (pid === Deno.pid) return true;
  try {
    Deno.statSync(`/proc/${pid}`);
    return true;
  } catch {
    // No /proc (not Linux): ask the kernel with signal 0.
    if (Deno.build.os === "linux") return false;
    const r = new Deno.Command("kill", { args: ["-0", String(pid)], stderr: "null" }).outputSync();
    return r.success;
  }
}

function readInfo(path: string): LockInfo | null {
  try {
    const info = JSON.parse(Deno.readTextFileSync(path));
    return typeof info?.pid === "number" ? info as LockInfo : null;
  } catch {
    return null;
  }
}

/** One line naming a lock's holder. */
export function describeHolder(info: LockInfo | null): string {
  if (!info) return "an unreadable lock file";
  return `pid ${info.pid} on ${info.host}, started ${info.started} (${info.command})`;
}

/**
 * Takes the lock of `dir` (created if missing). Throws `LockHeldError` when a live process
 * holds it; takes over a dead holder's lock and calls `log` with a line saying so.
 */
export function acquireLock(dir: string, log: (line: string) => void = console.log): Lock {
  Deno.mkdirSync(dir, { recursive: true });
  const path = join(dir, LOCK_FILE);
  const info: LockInfo = {
    pid: Deno.pid,
    host: hostname(),
    started: new Date().toISOString(),
    // A password in a URL argument (postgres://user:secret@host) never reaches the file.
    command: ["deno", ...Deno.args].join(" ").replace(/(\/\/[^:/@\s]*:)[^@\s]*@/g, "$1***@"),
  };
  const text = JSON.stringify(info) + "\n";
  for (let attempt = 0; attempt < 3; attempt++) {
    // Write the whole file under a private name, then link it to `.lock`: the link fails
    // when `.lock` exists, so the lock appears complete or not at all.
    const tmp = join(dir, `.lock.tmp-${Deno.pid}`);
    try {
      Deno.writeTextFileSync(tmp, text);
    } catch (e) {
      try {
        Deno.removeSync(tmp);
      } catch { /* not created */ }
      throw writeError(path, e);
    }
    try {
      Deno.linkSync(tmp, path);
      Deno.removeSync(tmp);
      return {
        path,
        info,
        release() {
          if (readInfo(path)?.pid === Deno.pid) Deno.removeSync(path);
        },
      };
    } catch (e) {
      Deno.removeSync(tmp);
      if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
    }
    const holder = readInfo(path);
    if (holder && holder.host === info.host && !processAlive(holder.pid)) {
      // Move the stale lock aside under a unique name; if another process took it over
      // first, the file moved is not the one read, and it is put back.
      const aside = join(dir, `.lock.stale-${Deno.pid}`);
      try {
        Deno.renameSync(path, aside);
      } catch {
        continue;
      }
      const moved = readInfo(aside);
      if (moved?.pid !== holder.pid || moved.started !== holder.started) {
        try {
          Deno.linkSync(aside, path);
        } catch { /* someone holds it now: the next attempt reports them */ }
        Deno.removeSync(aside);
        continue;
      }
      Deno.removeSync(aside);
      log(`taking over the lock of ${dir}: its holder (${describeHolder(holder)}) is gone`);
      continue;
    }
    throw new LockHeldError(
      path,
      holder,
      `${dir} is in use by ${describeHolder(holder)}` +
        (holder && holder.host !== info.host
          ? `; if that run is over, remove ${path}`
          : holder
          ? ""
          : `; remove ${path} if no run is using the folder`),
    );
  }
  throw new LockHeldError(path, readInfo(path), `could not take the lock ${path}`);
}
