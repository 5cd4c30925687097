import { logStage, STEP_LOSS_TAG } from "../../../stages/log/stage.ts";
import { SESSION_END_TAG, SESSION_START_TAG } from "../../../stages/log/hparams_plugin.ts";
import { frameRecord } from "../../../stages/log/tfevents.ts";
import { readEventFile } from "../../../stages/log/tfevents_read.ts";
import type { EpochMetrics } from "../../../stages/evaluate.ts";
import { epochRecord, eventFileNames, readBack, type ReadEvent, series } from "./_reader.ts";
import { assert, assertEquals } from "../../assert.ts";
import { tempDir } from "../../_temp.ts";

const HP = { lr: 0.1, optimizer: "adam" };

/**
 * One attempt at a run: step losses at `steps` (value: step + `offset`/10) and the epoch
 * records `epochs`, in the order a training loop sends them (an epoch after its steps).
 */
async function attempt(
  runDir: string,
  history: EpochMetrics[],
  steps: number[],
  epochs: number[],
  offset: number,
  end: boolean,
): Promise<void> {
  const stage = logStage({
    runDir,
    csvPath: `${runDir}/../metrics.csv`,
    classes: ["x", "y"],
    history,
  });
  const w = stage.writable.getWriter();
  const drained = stage.readable.pipeTo(new WritableStream());
  for (const s of steps) {
    await stage.stepLoss(s, s + offset / 10, 1700000000 + s + offset);
    if (s % 10 === 0 && epochs.includes(s / 10)) {
      await w.write(epochRecord("r", s / 10, HP, 2, offset));
    }
  }
  if (end) await stage.end("success", 1700009000 + offset);
  await w.close();
  await drained;
}

/** The only event file of `dir`, read back by the independent reader. */
async function only(dir: string): Promise<ReadEvent[]> {
  const files = eventFileNames(dir);
  assertEquals(files.length, 1, `one event file: ${files}`);
  assertEquals([...Deno.readDirSync(dir)].filter((e) => e.name.startsWith(".")).length, 0);
  return (await readBack(`${dir}/${files[0]}`)).events;
}

const stepsOf = (events: ReadEvent[], tag: string) => series(events, tag).map(([s]) => s);
const history = (n: number, offset: number) =>
  Array.from({ length: n }, (_, i) => epochRecord("r", i + 1, HP, 2, offset));

Deno.test("resume: one event file, replayed epochs and steps once, old wall times kept", async () => {
  const dir = await tempDir();
  const run = `${dir}/r`;
  try {
    // First try: epochs 1-3 logged, then killed (no end), the last record torn mid-write.
    await attempt(run, [], [5, 10, 15, 20, 25, 30], [1, 2, 3], 0, false);
    const [first] = eventFileNames(run);
    const torn = frameRecord(new Uint8Array(40).fill(7)).subarray(0, 30);
    await Deno.writeFile(`${run}/${first}`, torn, { append: true });
    assert((await readEventFile(`${run}/${first}`)).torn);

    // Resumed from a checkpoint after epoch 2 and 5 steps of epoch 3 (step 25): epoch 3 and
    // the steps from 30 on are replayed; step 25 is not, so its first value stays.
    await attempt(run, history(2, 0), [30, 35, 40], [3, 4], 1, true);
    let events = await only(run);
    assertEquals(stepsOf(events, "Loss/test"), [1, 2, 3, 4]);
    assertEquals(
      series(events, "Loss/train").map(([, v]) => v.simple_value),
      [1, 0.5, 4 / 3, 1.25].map(Math.fround),
    );
    const walls = events.filter((e) => e.values?.some((v) => v.tag === "Loss/test"));
    assertEquals(walls.map((e) => e.wall_time), [1700000100, 1700000200, 1700000301, 1700000401]);
    assertEquals(stepsOf(events, STEP_LOSS_TAG), [5, 10, 15, 20, 25, 30, 35, 40]);
    assertEquals(
      series(events, STEP_LOSS_TAG).map(([, v]) => v.simple_value),
      [5, 10, 15, 20, 25, 30.1, 35.1, 40.1].map(Math.fround),
    );
    assertEquals(stepsOf(events, "hparams"), [0]);
    assertEquals(stepsOf(events, SESSION_START_TAG), [0]);
    assertEquals(stepsOf(events, SESSION_END_TAG), [4]);
    assertEquals(events.filter((e) => e.file_version).length, 1);
    assertEquals(events[0].file_version, "brain.Event:2");

    // A crash between the rename and a removal leaves an old copy beside the new file: the
    // next resume drops its byte-identical events, and the old end of the run too.
    const [second] = eventFileNames(run);
    await Deno.copyFile(`${run}/${second}`, `${run}/events.out.tfevents.1.leftover`);
    // And a staged file of a process that died before publishing it: removed.
    await Deno.writeTextFile(`${run}/.staged-events.1.dead`, "partial");
    await attempt(run, history(4, 0), [45, 50], [5], 2, true);
    events = await only(run);
    assertEquals(stepsOf(events, "Loss/test"), [1, 2, 3, 4, 5]);
    assertEquals(stepsOf(events, STEP_LOSS_TAG), [5, 10, 15, 20, 25, 30, 35, 40, 45, 50]);
    assertEquals(stepsOf(events, SESSION_START_TAG), [0]);
    assertEquals(
      series(events, SESSION_END_TAG).map(([s, v]) => [s, v.hparams_plugin?.session_end_info]),
      [[5, { status: 1, end_time_secs: 1700009002 }]],
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("resume: a run folder without earlier event files gets a plain new file", async () => {
  const dir = await tempDir();
  try {
    await attempt(`${dir}/r`, history(1, 0), [15, 20], [2], 0, false);
    const events = await only(`${dir}/r`);
    assertEquals(stepsOf(events, "Loss/test"), [2]);
    assertEquals(stepsOf(events, SESSION_START_TAG), [1]);
    assertEquals(stepsOf(events, STEP_LOSS_TAG), [15, 20]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
