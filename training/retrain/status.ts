/**
 * `--status` (the champion and the last cycles) and `--rollback` (the previous champion
 * becomes the champion again, recorded in the history) of a retraining registry.
 */
import { hostname } from "node:os";
import { UsageError } from "../../core/errors.ts";
import { formatTable } from "../grid.ts";
import { championId, runDirOf, setChampion } from "./registry.ts";
import type { CycleRecord, RetrainStore } from "./store.ts";

const pct = (v?: number) => (v === undefined ? "" : (100 * v).toFixed(2) + "%");

/** The record that made `id` champion (the newest promotion or rollback to it). */
function madeChampion(records: CycleRecord[], id: string): CycleRecord | undefined {
  return records.find((c) =>
    c.championAfter === id && c.championBefore !== id &&
    (c.decision === "promoted" || c.decision === "rollback")
  );
}

/** Prints the champion and the last cycles. */
export async function status(registry: string, store: RetrainStore, last = 10): Promise<void> {
  const records = await store.recent(10_000);
  const champ = championId(registry);
  console.log(`registry: ${registry}   history: ${store.where}`);
  if (!champ) console.log("champion: none yet");
  else {
    const made = madeChampion(records, champ);
    const own = records.find((c) => c.id === champ);
    const figures = own?.candidate;
    console.log(
      `champion: ${champ}  accuracy ${pct(figures?.accuracy)}  loss ${
        figures?.loss.toFixed(4) ?? ""
      }  data ${own?.fingerprint.slice(0, 12) ?? "?"} (${own?.files ?? "?"} files)  since ${
        made?.ended ?? made?.started ?? "?"
      } (${made?.decision ?? "?"})`,
    );
  }
  const rows = records.slice(0, last).map((c) => ({
    id: c.id,
    started: c.started,
    decision: c.decision,
    candidate: pct(c.candidate?.accuracy),
    champion: pct(c.champion?.accuracy),
    "champion after": c.championAfter ?? "",
    exit: c.exitCode ?? "",
    reason: c.reason,
  }));
  console.log(
    rows.length ? `\nlast ${rows.length} cycle(s):\n${formatTable(rows)}` : "no cycles yet",
  );
}

/**
 * The champions in the order they became champion, as promotions push and rollbacks pop:
 * the last is the current champion, the one before it what a rollback restores.
 */
export function championStack(records: CycleRecord[]): string[] {
  const stack: string[] = [];
  for (const c of [...records].reverse()) {
    if (c.decision === "promoted" && c.championAfter) stack.push(c.championAfter);
    else if (c.decision === "rollback") stack.pop();
  }
  return stack;
}

/** Makes the previous champion the champion again and records it. */
export async function rollback(registry: string, store: RetrainStore): Promise<void> {
  const lock = await store.lock();
  try {
    const records = await store.recent(10_000);
    const current = championId(registry);
    if (!current) throw new UsageError(`${registry} has no champion to roll back`);
    const previous = championStack(records).at(-2);
    if (!previous) {
      throw new UsageError(`${current} is the first champion: nothing to roll back to`);
    }
    const model = `${runDirOf(registry, previous)}/model.onnx`;
    try {
      await Deno.stat(model);
    } catch {
      throw new UsageError(`the previous champion ${previous} has no model.onnx any more`);
    }
    setChampion(registry, previous);
    const now = new Date().toISOString();
    const prior = records.find((c) => c.id === previous);
    await store.record({
      id: `r${await store.lastNumber() + 1}`,
      started: now,
      ended: now,
      fingerprint: prior?.fingerprint ?? "",
      files: prior?.files ?? 0,
      decision: "rollback",
      reason: `rolled back from ${current} to ${previous}`,
      championBefore: current,
      championAfter: previous,
      exitCode: 0,
      host: hostname(),
      pid: Deno.pid,
    });
    console.log(`rolled back: ${previous} is the champion again (was ${current})`);
  } finally {
    await lock.release();
  }
}
