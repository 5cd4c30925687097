/**
 * Child process for checkpoint_test.ts. `deno run -A _checkpoint_writer.ts <dir> <mode>`:
 *   hang: writes a good checkpoint (epoch 1), then starts a large one (epoch 2) and, once
 *         part of it is in the temporary file, prints "PARTIAL <tmp>" and blocks reading
 *         stdin, which the parent keeps open, so it is still mid-write when it is killed
 *         (if stdin ends instead, it exits with status 3 without finishing the write);
 *   loop: writes checkpoints of epoch 1, 2, 3, … (weights filled with the epoch) forever,
 *         printing "SAVED <epoch>" after each.
 */
import { type Checkpoint, saveCheckpoint } from "../../training/checkpoint.ts";

const [dir, mode] = Deno.args;
const path = `${dir}/last.ckpt`;

function ckpt(epoch: number, floats: number, tensors = 1): Checkpoint {
  const weights: Checkpoint["weights"] = {};
  for (let k = 0; k < tensors; k++) {
    weights[`${k}.weight`] = { shape: [floats], data: new Float32Array(floats).fill(epoch) };
  }
  return {
    weights,
    optimizer: { t: epoch, m: [new Float32Array(4).fill(-epoch)] },
    epoch,
    step: epoch * 100,
    rng: { shuffle: [epoch, 2, 3, 4] },
    classes: { a: 0, b: 1 },
    hparams: { lr: 0.001 },
    best: { epoch, TestAccuracy: epoch / 10 },
  };
}

if (mode === "hang") {
  await saveCheckpoint(path, ckpt(1, 1000));
  await saveCheckpoint(path, ckpt(2, 1 << 20, 8), {
    afterChunk: async (bytes, tmp) => {
      if (bytes < 1 << 20) return;
      console.log(`PARTIAL ${tmp}`);
      // A bare never-settling promise would not do: with nothing pending, Deno ends the
      // process ("top-level await promise never resolved"), racing the parent's kill.
      // A pending read of stdin keeps this process alive and blocked right here.
      const buf = new Uint8Array(1);
      while (await Deno.stdin.read(buf) !== null);
      Deno.exit(3);
    },
  });
} else {
  for (let e = 1;; e++) {
    await saveCheckpoint(path, ckpt(e, 2 << 20));
    console.log(`SAVED ${e}`);
  }
}
