/**
 * `deno task retrain` on a copy of the fixtures' first set (34 usable training images, so
 * that each cycle trains in seconds), cycle after cycle as cron would run it:
 * the first cycle promotes, unchanged data skips, new data trains and is gated, a worse
 * candidate is kept out with the champion untouched byte for byte, a concurrent cycle
 * exits 3, a cycle killed with SIGKILL is resumed by the next one, retention keeps exactly
 * N candidates, `--status` and `--rollback` do what they say, and predict uses the champion.
 */
import { assert, assertEquals } from "../assert.ts";
import { readCsv } from "../../stages/log/csv.ts";
import { postgresUnavailable, startPostgres } from "../_postgres.ts";
import { firstSet, type Result, run, snapshot, startBlocked, startUntil } from "./_cli.ts";
import { tempDir } from "../_temp.ts";

function retrain(registry: string, data: string, extra: string[] = []): Promise<Result> {
  return run("retrain.ts", [
    "intel.ts",
    "--registry",
    registry,
    "--data",
    data,
    "--epochs",
    "2",
    "--features",
    "engine",
    ...extra,
  ]);
}

const lastLine = (r: Result) => r.out.trim().split("\n").at(-1) ?? "";

function championOf(registry: string): string {
  return Deno.readLinkSync(`${registry}/champion`).split("/").at(-1)!;
}

Deno.test("retrain: promote, skip, gate, keep a worse candidate out, lock, resume, retention, status, rollback", async (t) => {
  const base = await tempDir();
  const data = `${base}/data`, reg = `${base}/registry`;
  await firstSet(data);
  const train = `${data}/seg_train/seg_train`;

  await t.step("cycle 1 trains the first champion", async () => {
    const r = await retrain(reg, data);
    assertEquals(r.code, 0, r.err);
    assert(/^promoted c0001: first champion/.test(lastLine(r)), r.out);
    assertEquals(championOf(reg), "c0001");
  });

  await t.step("cycle 2 on the same data skips without training", async () => {
    const r = await retrain(reg, data);
    assertEquals(r.code, 0, r.err);
    assert(/^skipped: data unchanged since c0001/.test(lastLine(r)), r.out);
    assertEquals([...Deno.readDirSync(`${reg}/candidates`)].map((e) => e.name), ["c0001"]);
  });

  await t.step(
    "cycle 3 after new images trains, warm-started, and is gated against the champion",
    async () => {
      await Deno.copyFile(`${train}/forest/8.jpg`, `${train}/forest/8b.jpg`);
      // Gated on the hold-out loss, which two more epochs from the champion's weights lower.
      const r = await retrain(reg, data, ["--gate", "loss"]);
      assertEquals(r.code, 0, r.err);
      assert(/weights from .*c0001\/version_0\/run\/last\.ckpt/.test(r.err), r.err);
      assert(
        /^promoted c0003: loss [\d.]+ beats the champion's [\d.]+ by/.test(lastLine(r)),
        r.out,
      );
      const rows = await readCsv(`${reg}/history.csv`);
      const row = rows.find((x) => x.id === "c0003")!;
      assert(row && row.candidate_accuracy !== "" && row.champion_accuracy !== "", "gated");
    },
  );

  await t.step(
    "a worse candidate is not promoted; the champion is unchanged byte for byte",
    async () => {
      const champ = championOf(reg);
      const before = await snapshot(`${reg}/candidates/${champ}`);
      await Deno.copyFile(`${train}/sea/29.jpg`, `${train}/sea/29b.jpg`);
      const r = await retrain(reg, data, ["--from-scratch", "--lr", "1e-12", "--gate", "loss"]);
      assertEquals(r.code, 0, r.err);
      const kept = new RegExp(`^kept champion ${champ}: candidate c\\d+'s loss .* does not beat`);
      assert(kept.test(lastLine(r)), r.out);
      assertEquals(championOf(reg), champ);
      assertEquals([...(await snapshot(`${reg}/candidates/${champ}`))], [...before]);
    },
  );

  await t.step(
    "a concurrent cycle exits 3; a cycle killed with SIGKILL is resumed by the next",
    async () => {
      await Deno.copyFile(`${train}/street/36.jpg`, `${train}/street/36b.jpg`);
      const args = ["intel.ts", "--registry", reg, "--data", data, "--epochs", "2"];
      // Killed in epoch 2 (37 usable training images by now: 2 steps an epoch at batch 32).
      const blocked = await startBlocked([...args, "--features", "engine"], 3, "retrain.ts");
      const second = await retrain(reg, data);
      assertEquals(second.code, 3, second.err);
      assert(/in use by pid \d+/.test(second.err), second.err);
      assertEquals((await blocked.stop("SIGKILL")).signal, "SIGKILL");
      const r = await retrain(reg, data);
      assertEquals(r.code, 0, r.err);
      assert(/resuming the candidate of an interrupted cycle/.test(r.out), r.out);
      assert(/resumed after epoch 1/.test(r.err), r.err);
      assert(/^(promoted|kept champion) /.test(lastLine(r)), r.out);
    },
  );

  await t.step("retention keeps exactly N candidates whole", async () => {
    await Deno.copyFile(`${train}/glacier/15.jpg`, `${train}/glacier/15b.jpg`);
    const r = await retrain(reg, data, ["--keep", "2"]);
    assertEquals(r.code, 0, r.err);
    const history = await readCsv(`${reg}/history.csv`);
    const ever = new Set(history.map((h) => h.champion_after).filter(Boolean));
    const ids = [...Deno.readDirSync(`${reg}/candidates`)].map((e) => e.name).sort();
    const whole = ids.filter((id) => {
      try {
        return Deno.statSync(`${reg}/candidates/${id}/version_0/run/last.ckpt`).isFile;
      } catch {
        return false;
      }
    });
    const champ = championOf(reg);
    const expectWhole = new Set([...ids.slice(-2), champ]);
    assertEquals(whole, [...expectWhole].sort());
    for (const id of ids.filter((i) => !expectWhole.has(i))) {
      assert(ever.has(id), `${id} was never champion and should be deleted`);
      const left = [...Deno.readDirSync(`${reg}/candidates/${id}/version_0/run`)].map((e) =>
        e.name
      );
      assertEquals(left.sort(), ["model.onnx", "report.html", "run.json", "summary.json"]);
    }
  });

  await t.step(
    "--status shows the champion and the cycles; --rollback restores the previous champion",
    async () => {
      const s = await run("retrain.ts", ["intel.ts", "--registry", reg, "--status"]);
      assertEquals(s.code, 0, s.err);
      const champ = championOf(reg);
      assert(new RegExp(`^champion: ${champ}  accuracy`, "m").test(s.out), s.out);
      assert(/last \d+ cycle\(s\):/.test(s.out) && /skipped/.test(s.out), s.out);
      const history = await readCsv(`${reg}/history.csv`);
      const promotions = history.filter((h) => h.decision === "promoted").map((h) => h.id);
      assert(promotions.length >= 2, `promotions: ${promotions}`);
      const rb = await run("retrain.ts", ["intel.ts", "--registry", reg, "--rollback"]);
      assertEquals(rb.code, 0, rb.err);
      const previous = promotions.at(-2)!;
      assertEquals(championOf(reg), previous);
      assert(
        rb.out.includes(`rolled back: ${previous} is the champion again (was ${champ})`),
        rb.out,
      );
      const after = await readCsv(`${reg}/history.csv`);
      assert(
        after.some((h) => h.decision === "rollback" && h.champion_after === previous),
        "recorded",
      );
    },
  );

  await t.step("predict <registry> predicts with the champion", async () => {
    const r = await run("predict.ts", [reg, `${data}/seg_pred/seg_pred`, "--csv"]);
    assertEquals(r.code, 0, r.err);
    assertEquals(r.out.trim().split("\n").length, 1 + 5, r.out);
  });
});

const pgMissing = await postgresUnavailable();
if (pgMissing) console.error(`retrain PostgreSQL test ignored: ${pgMissing}`);

Deno.test({
  name:
    "retrain --store postgres: two cycles started at once from two processes — one trains, the other exits 3",
  ignore: pgMissing !== null,
  async fn() {
    const pg = await startPostgres();
    assert(pg, "PostgreSQL is installed but did not start");
    try {
      const base = await tempDir();
      const data = `${base}/data`, reg = `${base}/registry`;
      await firstSet(data);
      const store = ["--store", pg.url];
      const args = ["intel.ts", "--registry", reg, "--data", data, "--epochs", "2", ...store];
      const first = await startBlocked([...args, "--features", "engine"], 3, "retrain.ts");
      const second = await retrain(reg, data, store);
      assertEquals(second.code, 3, second.err);
      assert(/advisory lock/.test(second.err), second.err);
      assert(!second.err.includes(pg.password) && !second.out.includes(pg.password), "password");
      assert(
        !(await Deno.stat(`${reg}/candidates`).then(() => true, () => false)) ||
          [...Deno.readDirSync(`${reg}/candidates`)].length === 1,
        "the second one trained nothing",
      );
      const stopped = await first.stop("SIGTERM");
      assertEquals(stopped.code, 143, stopped.all);
      assert(!stopped.all.includes(pg.password), "password in the first cycle's output");
      const resumed = await retrain(reg, data, store);
      assertEquals(resumed.code, 0, resumed.err);
      assert(/^promoted c0001: first champion/.test(lastLine(resumed)), resumed.out);
      const status = await run("retrain.ts", ["intel.ts", "--registry", reg, ...store, "--status"]);
      assertEquals(status.code, 0, status.err);
      assert(/history: postgres(ql)?:\/\/[^ ]*\*\*\*/.test(status.out), status.out);
      assert(!status.out.includes(pg.password), "password in --status");
    } finally {
      await pg.stop();
    }
  },
});

Deno.test("retrain --schedule starts a cycle at each time and skips a time while one still runs", async () => {
  const base = await tempDir();
  const data = `${base}/data`, reg = `${base}/registry`;
  await firstSet(data);
  // Every second; the first cycle blocks after its step 1 (the test hook reaches the child),
  // so the next times find it running.
  const args = ["intel.ts", "--registry", reg, "--data", data, "--epochs", "1", "--features"];
  const scheduler = await startUntil(
    "retrain.ts",
    [...args, "engine", "--schedule", "* * * * * *"],
    { WEBGPU_TRAIN_BLOCK_AFTER_STEP: "1" },
    (out) => /test hook: blocking/.test(out) && /still running; skipping/.test(out),
  );
  const { code, all } = await scheduler.stop("SIGTERM");
  assertEquals(code, 0, all);
  assert(/schedule "\* \* \* \* \* \*": next cycle at /.test(all), all);
  assertEquals((all.match(/starting a cycle/g) ?? []).length, 1, all);
  assert(/the previous cycle is still running; skipping this one/.test(all), all);
  assert(/cycle exited 143 \(interrupted\)/.test(all), all);
});
