import { encodeEvent, frameRecord } from "../../../stages/log/tfevents.ts";
import { eventFiles, parseEventFile } from "../../../stages/log/tfevents_read.ts";
import { assertEquals } from "../../assert.ts";

const records = (...data: Uint8Array[]) => {
  const out = new Uint8Array(data.reduce((n, d) => n + d.length, 0));
  let off = 0;
  for (const d of data) out.set(d, (off += d.length) - d.length);
  return out;
};

Deno.test("tfevents_read: events read back with their bytes; a torn or bad tail ends the file", async () => {
  const a = encodeEvent({ wallTime: 1, step: 0, fileVersion: "brain.Event:2" });
  const b = encodeEvent({
    wallTime: 1700000000.5,
    step: 2 ** 40,
    values: [
      { tag: "Loss/test", scalar: 0.5 },
      { tag: "hparams", text: "| a | b |" },
      { tag: "_hparams_/experiment", plugin: "hparams", content: new Uint8Array([8, 0]) },
    ],
  });
  const file = records(frameRecord(a), frameRecord(b));
  const { events, torn } = parseEventFile(file);
  assertEquals(torn, false);
  assertEquals(events.map((e) => [e.wallTime, e.step, e.tags, e.fileVersion]), [
    [1, 0, [], true],
    [1700000000.5, 2 ** 40, ["Loss/test", "hparams", "_hparams_/experiment"], false],
  ]);
  assertEquals(events[1].data, b);
  // Cut mid-record, or a flipped bit in the last record: the good records before it remain.
  assertEquals(parseEventFile(file.subarray(0, file.length - 3)).events.length, 1);
  const bad = file.slice();
  bad[bad.length - 8] ^= 1;
  assertEquals(parseEventFile(bad), { events: [events[0]], torn: true });
  assertEquals(await eventFiles("/nonexistent/run"), []);
});
