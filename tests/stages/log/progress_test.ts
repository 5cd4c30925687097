import {
  eta,
  formatDuration,
  formatProgress,
  ProgressWriter,
} from "../../../stages/log/progress.ts";
import { assertEquals } from "../../assert.ts";

Deno.test("progress: durations, ETA for the epoch and the grid, the line", () => {
  assertEquals([
    formatDuration(9.4),
    formatDuration(185),
    formatDuration(3720),
    formatDuration(NaN),
  ], [
    "9s",
    "3m05s",
    "1h02m",
    "--",
  ]);
  const p = {
    epoch: 2,
    epochs: 3,
    step: 25,
    steps: 100,
    images: 800,
    elapsedSec: 10,
    loss: 0.48213,
  };
  assertEquals(eta(p), { epochSec: 30, gridSec: 30 + 40 });
  const g = { ...p, run: "lr=0.001", gridEpochsDone: 4, gridEpochs: 12, meanEpochSec: 50 };
  assertEquals(eta(g), { epochSec: 30, gridSec: 30 + 7 * 50 });
  assertEquals(
    formatProgress(g),
    "lr=0.001  epoch 2/3  step 25/100  80 img/s  loss 0.4821  ETA 30s · grid 6m20s",
  );
  assertEquals(
    formatProgress({ epoch: 1, epochs: 1, step: 0, steps: 0, images: 0, elapsedSec: 0 }),
    "epoch 1/1  step 0  -- img/s  ETA -- · run --",
  );
});

Deno.test("progress: \\r redraws on a terminal, throttled plain lines otherwise", () => {
  const sink = () => {
    const chunks: string[] = [];
    return {
      chunks,
      writeSync: (b: Uint8Array) => (chunks.push(new TextDecoder().decode(b)), b.length),
    };
  };
  let t = 0;
  const p = { epoch: 1, epochs: 1, step: 1, steps: 2, images: 10, elapsedSec: 1 };
  const tty = sink();
  const w = new ProgressWriter({ out: tty, tty: true, now: () => t });
  w.update(p);
  t = 50;
  w.update(p); // throttled (100 ms)
  t = 200;
  w.update({ ...p, step: 2 });
  w.done("epoch 1 done");
  assertEquals(tty.chunks.length, 3);
  assertEquals(tty.chunks[0].startsWith("\r") && tty.chunks[0].endsWith("\x1b[K"), true);
  assertEquals(tty.chunks[2], "\repoch 1 done\x1b[K\n");
  const plain = sink();
  const v = new ProgressWriter({ out: plain, tty: false, now: () => t });
  v.update(p);
  t += 5000;
  v.update(p);
  t += 6000;
  v.update(p);
  v.log("note");
  assertEquals(plain.chunks.length, 3);
  assertEquals(plain.chunks.every((c) => !c.includes("\r") && c.endsWith("\n")), true);
});
