/**
 * Connecting to PostgreSQL for the stores that share a database (the retraining history,
 * the search studies): the URL checked and read with libpq's environment variables and
 * password file, a `postgres` client opened on it, and every text that leaves — errors,
 * `where` lines — with the URL masked and the password scrubbed out.
 *
 * The password comes from the URL, else `PGPASSWORD`, else the password file (`PGPASSFILE`,
 * default `~/.pgpass`, libpq's format; ignored when group or others can read it, as libpq
 * does).
 */
import postgres from "postgres";
import { join } from "node:path";
import { UsageError } from "../core/errors.ts";

/** The PostgreSQL store could not do its work (connection, authentication, a query). */
export class StoreError extends Error {
  override name = "StoreError";
  /** Builds the error from its message (line breaks folded into spaces: one line). */
  constructor(message: string) {
    super(message.replace(/\s*\n\s*/g, " "));
  }
}

/**
 * The URL with its password replaced by `***` (also a `password=` query parameter). Works
 * on any text, masking every URL in it, and masks more rather than less when a URL is not
 * well formed (a password with an unescaped `@` or `/`).
 */
export function maskUrl(url: string): string {
  return url
    .replace(/([a-z][a-z0-9+.-]*:\/\/)(\S*)@/gi, (all, scheme: string, info: string) => {
      const colon = info.indexOf(":");
      if (colon < 0 || /[/?#]/.test(info.slice(0, colon))) return all;
      return `${scheme}${info.slice(0, colon)}:***@`;
    })
    .replace(/([?&]password=)[^&#\s]*/gi, "$1***");
}

/** What the store connects with, from the URL and libpq's environment variables. */
export interface Target {
  host: string;
  port: number;
  database: string;
  user: string;
  /** The password ("" for none) and where it came from. */
  pass: string;
  passFrom: "url" | "PGPASSWORD" | "password file" | "none";
  /** Why the password file was not used, when it was not. */
  passFileNote?: string;
}

function decode(s: string, url: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw new UsageError(`bad PostgreSQL URL ${maskUrl(url)}: bad %-escape`);
  }
}

/** Splits one pgpass line into its five fields (`\` escapes `:` and `\`). */
function pgpassFields(line: string): string[] {
  const fields: string[] = [];
  let f = "";
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (ch === "\\" && i + 1 < line.length) f += line[++i];
    else if (ch === ":" && fields.length < 4) {
      fields.push(f);
      f = "";
    } else f += ch;
  }
  fields.push(f);
  return fields;
}

/**
 * The password for `t` from the password file (libpq's rules: first matching line wins,
 * `*` matches anything, a socket host matches `localhost`); undefined when none matches.
 */
function passFromFile(t: Target): { pass?: string; note?: string } {
  const env = Deno.env.toObject();
  const home = env.HOME ?? "";
  const path = env.PGPASSFILE ?? (home ? join(home, ".pgpass") : "");
  if (!path) return {};
  let text: string;
  try {
    const st = Deno.statSync(path);
    if (!st.isFile) return {};
    if (st.mode !== null && (st.mode & 0o077) !== 0) {
      return { note: `${path} was ignored: group or others can read it (chmod 0600 it)` };
    }
    text = Deno.readTextFileSync(path);
  } catch {
    return {};
  }
  const host = t.host.startsWith("/") ? "localhost" : t.host;
  const want = [host, String(t.port), t.database, t.user];
  for (const raw of text.split(/\r?\n/)) {
    if (!raw || raw.startsWith("#")) continue;
    const f = pgpassFields(raw);
    if (f.length < 5) continue;
    if (want.every((w, k) => f[k] === "*" || f[k] === w)) return { pass: f[4] };
  }
  return {};
}

/** Parses and checks the URL (`UsageError` when it is not a PostgreSQL URL). */
export function pgTarget(url: string): Target {
  if (!/^postgres(ql)?:\/\//i.test(url)) {
    throw new UsageError(
      `bad PostgreSQL URL ${maskUrl(url)}: expected postgres://user[:password]@host[:port]/db`,
    );
  }
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new UsageError(`bad PostgreSQL URL ${maskUrl(url)}`);
  }
  if (u.hostname.includes(",")) {
    throw new UsageError(`bad PostgreSQL URL ${maskUrl(url)}: give one host`);
  }
  const port = u.port ? Number(u.port) : Number(Deno.env.get("PGPORT") ?? 5432);
  if (!Number.isInteger(port) || port <= 0 || port > 65535) {
    throw new UsageError(`bad PostgreSQL URL ${maskUrl(url)}: bad port`);
  }
  const user = decode(u.username, url) || Deno.env.get("PGUSER") ||
    Deno.env.get("USER") || "postgres";
  const t: Target = {
    host: decode(u.hostname, url).replace(/^\[|\]$/g, "") || Deno.env.get("PGHOST") ||
      "localhost",
    port,
    database: decode(u.pathname.replace(/^\//, ""), url) || Deno.env.get("PGDATABASE") || user,
    user,
    pass: "",
    passFrom: "none",
  };
  const fromUrl = decode(u.password, url);
  const fromEnv = Deno.env.get("PGPASSWORD");
  if (fromUrl) Object.assign(t, { pass: fromUrl, passFrom: "url" });
  else if (fromEnv) Object.assign(t, { pass: fromEnv, passFrom: "PGPASSWORD" });
  else {
    const f = passFromFile(t);
    if (f.pass !== undefined) Object.assign(t, { pass: f.pass, passFrom: "password file" });
    t.passFileNote = f.note;
  }
  return t;
}

/** A function removing the URL and every secret (plain and %-encoded) from a text. */
export function scrubber(url: string, secrets: string[]): (text: string) => string {
  const masked = maskUrl(url);
  const all = new Set<string>();
  // The URL's own spelling of its password, whatever its escapes.
  const raw = /^[^:]+:\/\/[^:@/]*:([^@]*)@/.exec(url)?.[1];
  if (raw) all.add(raw);
  for (const s of secrets) {
    if (!s) continue;
    all.add(s);
    all.add(encodeURIComponent(s));
  }
  const sorted = [...all].sort((a, b) => b.length - a.length);
  return (text) => {
    let out = text.split(url).join(masked);
    for (const s of sorted) out = out.split(s).join("***");
    return maskUrl(out);
  };
}

/** An open client and what its owner needs to report failures without a secret. */
export interface PgConnection {
  sql: postgres.Sql;
  /** The URL with its password masked. */
  masked: string;
  /** Removes the URL and the password from a text. */
  scrub: (text: string) => string;
  /** A driver error as one line: what failed, the masked URL, where the password came from. */
  fail: (what: string, e: unknown) => StoreError;
  /** Closes the client (never throws). */
  end: () => Promise<void>;
}

/**
 * Opens a client on `url` (`UsageError` for a malformed URL, before any connection);
 * `app` names the connection in `pg_stat_activity`.
 */
export function connectPg(url: string, app: string): PgConnection {
  const t = pgTarget(url);
  const masked = maskUrl(url);
  const scrub = scrubber(url, [t.pass, Deno.env.get("PGPASSWORD") ?? ""]);
  const fail = (what: string, e: unknown): StoreError => {
    const msg = e instanceof Error ? e.message : String(e);
    const code = (e as { code?: unknown })?.code;
    let line = `${what} (${masked}): ${scrub(msg || String(code ?? "error"))}`;
    if (code === "28P01" || code === "28000") {
      line += ` (password from ${t.passFrom})`;
      if (t.passFileNote) line += `; ${scrub(t.passFileNote)}`;
    }
    return new StoreError(line);
  };
  let sql: postgres.Sql;
  try {
    sql = postgres(url, {
      host: t.host,
      port: t.port,
      database: t.database,
      username: t.user,
      pass: t.pass,
      max: 4,
      connect_timeout: 15,
      idle_timeout: 0,
      onnotice: () => {},
      connection: { application_name: app },
    });
  } catch (e) {
    throw new UsageError(`bad PostgreSQL URL ${masked}: ${scrub((e as Error).message)}`);
  }
  return { sql, masked, scrub, fail, end: () => sql.end({ timeout: 5 }).catch(() => {}) };
}
