import { fileURLToPath } from "node:url";
import {
  encodeEvent,
  epochScalars,
  EventWriter,
  frameRecord,
  hparamsMarkdown,
} from "../../../stages/log/tfevents.ts";
import { computeMetrics } from "../../../stages/metrics.ts";
import type { EpochMetrics } from "../../../stages/evaluate.ts";
import { assert, assertEquals, assertThrows } from "../../assert.ts";
import { tempDir } from "../../_temp.ts";

const READER = fileURLToPath(new URL("./read_tfevents.py", import.meta.url));

interface ReadValue {
  tag: string;
  simple_value?: number;
  plugin?: string;
  tensor?: { dtype: number; string_val: string[] };
}
interface ReadEvent {
  wall_time: number;
  step: number;
  file_version?: string;
  values?: ReadValue[];
}

/** Runs the independent Python reader (own CRC-32C, own proto decoder) on a file. */
async function readBack(path: string): Promise<{ crc_checked: number; events: ReadEvent[] }> {
  const out = await new Deno.Command("/usr/bin/python3", { args: [READER, path] }).output();
  const err = new TextDecoder().decode(out.stderr);
  if (!out.success) throw new Error(`reader failed: ${err}`);
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

function epoch(e: number): EpochMetrics {
  const test = computeMetrics([2, 1, 0.1, 0.3, 1.7, 0.2, 0.1, 0.2, 3], [0, 1, 1], 3);
  return {
    run: "lr=0.001",
    epoch: e,
    step: e * 10,
    train: { loss: 1 / (e + 2), accuracy: 0.5 + e / 10, count: 100 },
    test,
    lr: 0.001,
    durationSec: 12.345 + e,
    hparams: { lr: 0.001, batch_size: 32, optimizer: "adam" },
  };
}

Deno.test("tfevents: file name, framing and CRCs, values read back equal", async () => {
  const dir = await tempDir();
  try {
    const w = await EventWriter.create(dir, { host: "testhost", time: 1700000000.25 });
    assert(w.path.endsWith("/events.out.tfevents.1700000000.testhost"), w.path);
    const hp = { lr: 0.001, batch_size: 32, optimizer: "adam" };
    w.hparams(hp, 0, 1700000000.5);
    const classes = ["buildings", "forest", "glacier"];
    const written = [1, 2].map((e) => epochScalars(epoch(e), classes));
    written.forEach((s, k) => w.scalars(s, k + 1, 1700000001 + k));
    w.scalars({ "big step": -1e-7 }, 2 ** 40, 1700000003.125);
    await w.close();

    const { crc_checked, events } = await readBack(w.path);
    assertEquals(crc_checked, 5);
    assertEquals(events[0], { wall_time: 1700000000.25, step: 0, file_version: "brain.Event:2" });
    const text = events[1].values![0];
    assertEquals(text.tag, "hparams");
    assertEquals(text.plugin, "text");
    assertEquals(text.tensor!.dtype, 7);
    assertEquals(text.tensor!.string_val, [hparamsMarkdown(hp)]);
    assert(text.tensor!.string_val[0].includes("| optimizer | adam |"));
    for (const [k, s] of written.entries()) {
      const ev = events[2 + k];
      assertEquals(ev.step, k + 1);
      assertEquals(ev.wall_time, 1700000001 + k);
      const got = Object.fromEntries(ev.values!.map((v) => [v.tag, v.simple_value]));
      const want = Object.fromEntries(Object.entries(s).map(([t, v]) => [t, Math.fround(v)]));
      assertEquals(got, want);
      assert("F1/glacier" in got && "Loss/test" in got && "Accuracy/train" in got);
    }
    assertEquals(events[4].step, 2 ** 40);
    assertEquals(events[4].values, [{ tag: "big step", simple_value: Math.fround(-1e-7) }]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("tfevents: the reader rejects a corrupted record (CRC really checked)", async () => {
  const dir = await tempDir();
  try {
    const rec = frameRecord(
      encodeEvent({ wallTime: 1, step: 3, values: [{ tag: "a", scalar: 1 }] }),
    );
    rec[rec.length - 6] ^= 1;
    await Deno.writeFile(`${dir}/events.out.tfevents.1.x`, rec);
    await readBack(`${dir}/events.out.tfevents.1.x`).then(
      () => {
        throw new Error("expected a CRC error");
      },
      (e) => assert(/data CRC mismatch/.test((e as Error).message), (e as Error).message),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("tfevents: a second writer in the same second gets its own file", async () => {
  const dir = await tempDir();
  try {
    const a = await EventWriter.create(dir, { host: "h", time: 5 });
    const b = await EventWriter.create(dir, { host: "h", time: 5 });
    assert(a.path !== b.path);
    await a.close();
    await b.close();
    assertThrows(() => frameRecord(null as unknown as Uint8Array));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
