/**
 * A real, throw-away PostgreSQL server for a test. `postgresUnavailable()` (cheap; call it
 * at a test module's top level to compute `ignore`) finds `initdb`/`pg_ctl` — on PATH or
 * under Debian's /usr/lib/postgresql/<version>/bin, installing the `postgresql` package with
 * `scripts/setup.sh --postgres` when they are missing — and says why no server can be run,
 * or null. `startPostgres()` then makes a cluster in a fresh temporary folder (owned by the
 * `postgres` user when running as root: initdb and pg_ctl refuse root), listening on a free
 * port of 127.0.0.1 with its socket in that folder, whose superuser `webgpu_test` has a
 * password (TCP logins need it: scram-sha-256), and returns its URL. Setting
 * `WEBGPU_TEST_NO_POSTGRES` makes PostgreSQL unavailable (the tests that need it are ignored).
 */
import { join } from "node:path";
import { tempDir } from "./_temp.ts";

/** A running test server. */
export interface PostgresServer {
  /** `postgres://webgpu_test:<password>@127.0.0.1:<port>/postgres` (password %-encoded). */
  url: string;
  /** The test role's password as the server knows it (not %-encoded). */
  password: string;
  /** Stops the server (`pg_ctl stop -m fast`) and removes its folder. */
  stop(): Promise<void>;
}

interface Found {
  bin: string;
  /** `runuser -u postgres --` when running as root, else nothing. */
  prefix: string[];
  uid?: number;
  gid?: number;
}

let found: Promise<Found | string> | undefined;

async function run(cmd: string, args: string[], cwd?: string) {
  try {
    const r = await new Deno.Command(cmd, { args, cwd, stdout: "piped", stderr: "piped" })
      .output();
    const dec = new TextDecoder();
    return { ok: r.success, out: dec.decode(r.stdout), err: dec.decode(r.stderr) };
  } catch (e) {
    return { ok: false, out: "", err: (e as Error).message };
  }
}

/** The folder holding both initdb and pg_ctl, or null. */
async function binDir(): Promise<string | null> {
  const which = await run("sh", ["-c", "command -v pg_ctl"]);
  const dirs: string[] = [];
  if (which.ok) {
    const p = which.out.trim();
    dirs.push(p.slice(0, p.lastIndexOf("/")));
    try {
      const real = await Deno.realPath(p);
      dirs.unshift(real.slice(0, real.lastIndexOf("/")));
    } catch { /* keep the PATH one */ }
  }
  try {
    const versions = [];
    for await (const e of Deno.readDir("/usr/lib/postgresql")) versions.push(e.name);
    versions.sort((a, b) => Number(b) - Number(a));
    for (const v of versions) dirs.push(`/usr/lib/postgresql/${v}/bin`);
  } catch { /* not Debian's layout */ }
  for (const d of dirs) {
    try {
      await Deno.stat(join(d, "initdb"));
      await Deno.stat(join(d, "pg_ctl"));
      return d;
    } catch { /* next */ }
  }
  return null;
}

async function find(): Promise<Found | string> {
  if (Deno.env.get("WEBGPU_TEST_NO_POSTGRES")) return "WEBGPU_TEST_NO_POSTGRES is set";
  let bin = await binDir();
  if (!bin) {
    await run("sh", ["scripts/setup.sh", "--postgres"]);
    bin = await binDir();
  }
  if (!bin) return "initdb/pg_ctl not found and the postgresql package could not be installed";
  const version = await run(join(bin, "pg_ctl"), ["--version"]);
  if (!version.ok) return `${bin}/pg_ctl does not run: ${version.err.trim()}`;
  if (Deno.uid() !== 0) return { bin, prefix: [] };
  const uid = await run("id", ["-u", "postgres"]), gid = await run("id", ["-g", "postgres"]);
  if (!uid.ok || !gid.ok) return "running as root and there is no postgres user to run initdb";
  if (!(await run("sh", ["-c", "command -v runuser"])).ok) return "running as root without runuser";
  return {
    bin,
    prefix: ["runuser", "-u", "postgres", "--"],
    uid: Number(uid.out.trim()),
    gid: Number(gid.out.trim()),
  };
}

/**
 * Why a test server cannot be run here (installing PostgreSQL first when it is missing),
 * or null when `startPostgres()` should work.
 */
export async function postgresUnavailable(): Promise<string | null> {
  found ??= find();
  const f = await found;
  return typeof f === "string" ? f : null;
}

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/**
 * Starts a fresh server; null (with the reason on stderr) when PostgreSQL cannot be
 * installed or started. The caller must `stop()` it (try/finally).
 */
export async function startPostgres(): Promise<PostgresServer | null> {
  found ??= find();
  const f = await found;
  if (typeof f === "string") {
    console.error(`startPostgres: ${f}`);
    return null;
  }
  const dir = await tempDir("webgpu-pg-");
  const as = async (cmd: string, args: string[]) => {
    const [c, ...rest] = [...f.prefix, join(f.bin, cmd), ...args];
    return await run(c, rest, dir);
  };
  const data = join(dir, "data");
  const rand = crypto.getRandomValues(new Uint32Array(2)).join("");
  // Characters that must be %-encoded in a URL, so masking is tested on both forms.
  const password = `pw/${rand}@x`;
  let started = false;
  const cleanup = async () => {
    if (started) await as("pg_ctl", ["-D", data, "-m", "fast", "-w", "stop"]);
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  try {
    if (f.uid !== undefined) await Deno.chown(dir, f.uid, f.gid ?? null);
    const pwfile = join(dir, "pw");
    await Deno.writeTextFile(pwfile, password + "\n", { mode: 0o600 });
    if (f.uid !== undefined) await Deno.chown(pwfile, f.uid, f.gid ?? null);
    const init = await as("initdb", [
      "-D",
      data,
      "-U",
      "webgpu_test",
      `--pwfile=${pwfile}`,
      "--auth-local=trust",
      "--auth-host=scram-sha-256",
      "--no-locale",
      "-E",
      "UTF8",
      "--no-sync",
    ]);
    await Deno.remove(pwfile);
    if (!init.ok) throw new Error(`initdb failed: ${init.err.trim() || init.out.trim()}`);
    let last = "";
    for (let attempt = 0; attempt < 3 && !started; attempt++) {
      const port = freePort();
      const opts = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`;
      const r = await as("pg_ctl", [
        "-D",
        data,
        "-w",
        "-t",
        "60",
        "-l",
        join(dir, "log"),
        "-o",
        opts,
        "start",
      ]);
      if (r.ok) {
        started = true;
        const url = `postgres://webgpu_test:${encodeURIComponent(password)}@127.0.0.1:${port}` +
          `/postgres`;
        return { url, password, stop: cleanup };
      }
      last = r.err.trim() || r.out.trim();
      try {
        last += " | " + (await Deno.readTextFile(join(dir, "log"))).trim().split("\n").pop();
      } catch { /* no log */ }
    }
    throw new Error(`pg_ctl start failed: ${last}`);
  } catch (e) {
    console.error(`startPostgres: ${(e as Error).message}`);
    await cleanup();
    return null;
  }
}
