/**
 * Writes onto a real full disk (a small tmpfs): a replaced file keeps its old bytes and no
 * temporary one is left; an append goes in whole or is cut back; an event record cut
 * short is cut off, so the file reads back whole (the independent Python reader checks
 * every CRC); each failure is a WriteError naming the file.
 */
import { fileURLToPath } from "node:url";
import { appendWhole, isNoSpace, WriteError, writeFileAtomic } from "../../stages/atomic.ts";
import { appendCsvRow, readCsv } from "../../stages/log/csv.ts";
import { EventWriter } from "../../stages/log/tfevents.ts";
import { assert, assertEquals } from "../assert.ts";
import { noSmallDisk, smallDisk } from "../_small_disk.ts";

const ignore = noSmallDisk();

const enc = new TextEncoder();

async function rejects(p: Promise<unknown>): Promise<WriteError> {
  try {
    await p;
  } catch (e) {
    assert(e instanceof WriteError, `a WriteError, got ${e}`);
    return e;
  }
  throw new Error("the write succeeded on a full disk");
}

function entries(dir: string): string[] {
  return [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) => n !== ".filler").sort();
}

Deno.test({
  name: "writeFileAtomic on a full disk: the old file unchanged, no temporary left",
  ignore,
  async fn() {
    await using disk = smallDisk(1 << 20);
    const path = `${disk.dir}/summary.json`;
    await writeFileAtomic(path, [enc.encode("old\n")]);
    await disk.fill();
    const e = await rejects(writeFileAtomic(path, [new Uint8Array(200_000)]));
    assert(e.noSpace && isNoSpace(e), e.message);
    assertEquals(e.path, path);
    assertEquals(e.message, `no space left on device writing ${path}`);
    assertEquals(await Deno.readTextFile(path), "old\n");
    assertEquals(entries(disk.dir), ["summary.json"]);
    await disk.free();
    await writeFileAtomic(path, [enc.encode("new\n")]);
    assertEquals(await Deno.readTextFile(path), "new\n");
  },
});

Deno.test({
  name: "an append that runs out of space part-way is cut back; a CSV keeps whole rows",
  ignore,
  async fn() {
    await using disk = smallDisk(1 << 20);
    const path = `${disk.dir}/log.jsonl`;
    await appendWhole(path, enc.encode('{"a":1}\n'));
    await disk.fill();
    await disk.leave(8192); // room for part of the next line only
    const line = enc.encode(`{"b":"${"x".repeat(100_000)}"}\n`);
    const e = await rejects(appendWhole(path, line));
    assert(e.noSpace, e.message);
    assertEquals((await Deno.stat(path)).size, 8, "the file is cut back to its first line");
    await disk.free();
    await appendWhole(path, line);
    assertEquals((await Deno.stat(path)).size, 8 + line.length);

    const csv = `${disk.dir}/metrics.csv`;
    await appendCsvRow(csv, { run: "r", epoch: 1, note: "first" });
    await disk.fill();
    await disk.leave(4096);
    await rejects(appendCsvRow(csv, { run: "r", epoch: 2, note: "y".repeat(50_000) }));
    await disk.free();
    await appendCsvRow(csv, { run: "r", epoch: 3, note: "third" });
    const rows = await readCsv(csv);
    assertEquals(rows.map((r) => [r.epoch, r.note]), [["1", "first"], ["3", "third"]]);
  },
});

const READER = fileURLToPath(new URL("./log/read_tfevents.py", import.meta.url));

Deno.test({
  name: "an event record cut short by a full disk is cut off: the file reads back whole",
  ignore,
  async fn() {
    await using disk = smallDisk(1 << 20);
    const w = await EventWriter.create(disk.dir, { host: "h", time: 1000 });
    w.scalars({ loss: 1 }, 1, 1001);
    await disk.fill();
    await disk.leave(4096);
    let failed: unknown;
    try {
      w.text("notes", "z".repeat(100_000), 2, 1002);
    } catch (e) {
      failed = e;
    }
    assert(failed instanceof WriteError && failed.noSpace, `a WriteError, got ${failed}`);
    assertEquals(failed.path, w.path);
    await disk.free();
    w.scalars({ loss: 0.5 }, 3, 1003);
    await w.close();
    const out = await new Deno.Command("/usr/bin/python3", { args: [READER, w.path] }).output();
    assert(out.success, new TextDecoder().decode(out.stderr));
    const read = JSON.parse(new TextDecoder().decode(out.stdout));
    assertEquals(read.crc_checked, 3);
    assertEquals(read.events.map((e: { step: number }) => e.step), [0, 1, 3]);
  },
});
