import { fileURLToPath } from "node:url";
import {
  BEST,
  type Checkpoint,
  decodeCheckpoint,
  encodeCheckpoint,
  LAST,
  loadCheckpoint,
  resolveCheckpoint,
  saveCheckpoint,
  saveRunCheckpoint,
} from "../../training/checkpoint.ts";
import { removeStaleTemps } from "../../stages/atomic.ts";
import { Rng } from "../../core/random.ts";
import { assert, assertEquals, assertRejects } from "../assert.ts";
import { tempDir } from "../_temp.ts";

const WRITER = fileURLToPath(new URL("./_checkpoint_writer.ts", import.meta.url));

function sample(): Checkpoint {
  const rng = new Rng(7);
  rng.next();
  return {
    weights: {
      "features.0.weight": { shape: [2, 3], data: new Float32Array([1, -2, 3.5, NaN, -0, 1e-30]) },
      "features.0.bias": { shape: [2], data: new Float32Array([Infinity, -Infinity]) },
      "head.1.running_mean": { shape: [], data: new Float32Array([0.25]) },
    },
    optimizer: {
      name: "adam",
      t: 12,
      betas: [0.9, 0.999],
      state: [{ m: new Float32Array([1, 2, 3]), v: new Float32Array([4, 5, 6]) }, null],
      counts: new Int32Array([1, -2]),
    },
    epoch: 3,
    step: 1234,
    rng: { shuffle: rng.state(), augment: new Rng(1).state() },
    classes: { buildings: 0, forest: 1, 'glacier "ice"': 2 },
    hparams: { lr: 3e-4, batch_size: 32, optimizer: "adam", strict: false },
    best: { epoch: 2, TestAccuracy: 0.875, TestLoss: -Infinity },
    extra: { earlyStopping: { wait: 1, best: NaN } },
  };
}

Deno.test("checkpoint: round trip keeps every field, float bits and generator state", async () => {
  const dir = await tempDir();
  try {
    const c = sample();
    await saveCheckpoint(`${dir}/sub/x.ckpt`, c);
    const back = await loadCheckpoint(`${dir}/sub/x.ckpt`);
    assertEquals(back, c);
    for (const [k, e] of Object.entries(c.weights)) {
      assertEquals(
        new Uint32Array(back.weights[k].data.slice().buffer),
        new Uint32Array(e.data.buffer),
      );
    }
    const rng = new Rng(0);
    rng.setState(back.rng.shuffle);
    const ref = new Rng(7);
    ref.next();
    assertEquals([rng.next(), rng.next()], [ref.next(), ref.next()]);
    assertEquals([...Deno.readDirSync(`${dir}/sub`)].map((e) => e.name), ["x.ckpt"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("checkpoint: truncated or corrupted files are refused, naming the file", () => {
  const bytes = new Uint8Array(encodeCheckpoint(sample()).flatMap((p) => [...p]));
  assertEquals(decodeCheckpoint(bytes).epoch, 3);
  for (const cut of [10, 100, bytes.length - 30, bytes.length - 1]) {
    let msg = "";
    try {
      decodeCheckpoint(bytes.slice(0, cut), "run/last.ckpt");
    } catch (e) {
      msg = (e as Error).message;
    }
    assert(msg.startsWith("run/last.ckpt: not a valid checkpoint"), `cut ${cut}: ${msg}`);
  }
  const flipped = bytes.slice();
  flipped[bytes.length - 20] ^= 4;
  let msg = "";
  try {
    decodeCheckpoint(flipped);
  } catch (e) {
    msg = (e as Error).message;
  }
  assert(msg.includes("data CRC"), msg);
});

Deno.test("checkpoint: run folder keeps last and best; resolve finds them", async () => {
  const dir = await tempDir();
  try {
    const c = sample();
    await saveRunCheckpoint(dir, c, true);
    await saveRunCheckpoint(dir, { ...c, epoch: 4, best: { epoch: 2 } }, false);
    assertEquals((await loadCheckpoint(await resolveCheckpoint(dir))).epoch, 4);
    assertEquals((await loadCheckpoint(await resolveCheckpoint(dir, "best"))).epoch, 3);
    assertEquals(await resolveCheckpoint(`${dir}/${BEST}`), `${dir}/${BEST}`);
    await assertRejects(resolveCheckpoint(`${dir}/nope`), /no checkpoint or run folder/);
    await Deno.remove(`${dir}/${LAST}`);
    await assertRejects(resolveCheckpoint(dir), /has no last\.ckpt/);
    await assertRejects(loadCheckpoint(`${dir}/${LAST}`), /no checkpoint at/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("checkpoint: best.ckpt is written before last.ckpt, so a failure between leaves them consistent", async () => {
  const dir = await tempDir();
  const c = sample();
  await saveRunCheckpoint(dir, c, true);
  // last.ckpt cannot be replaced (a folder with a file in it stands there): the write fails.
  await Deno.remove(`${dir}/${LAST}`);
  await Deno.mkdir(`${dir}/${LAST}/x`, { recursive: true });
  await assertRejects(saveRunCheckpoint(dir, { ...c, epoch: 4 }, true), /could not write/);
  // The new best went in first; last.ckpt, one epoch behind, replays this epoch on resume.
  assertEquals((await loadCheckpoint(`${dir}/${BEST}`)).epoch, 4);
  assertEquals(entryNames(dir), [BEST, LAST].sort());
});

function entryNames(dir: string): string[] {
  return [...Deno.readDirSync(dir)].map((e) => e.name).sort();
}

function child(dir: string, mode: string) {
  const p = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--no-check", WRITER, dir, mode],
    // kept open until the child is dead: the "hang" writer blocks reading it
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const lines = p.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  return {
    p,
    async line(): Promise<string> {
      while (!buf.includes("\n")) {
        const { value, done } = await lines.read();
        if (done) throw new Error("child ended early");
        buf += value;
      }
      const [l, ...rest] = buf.split("\n");
      buf = rest.join("\n");
      return l;
    },
    async kill() {
      p.kill("SIGKILL");
      const s = await p.status;
      await lines.cancel();
      await p.stdin.close().catch(() => {}); // the pipe's reader is gone with the child
      return s;
    },
  };
}

Deno.test("checkpoint: SIGKILL mid-write leaves the previous checkpoint under the final name", async () => {
  const dir = await tempDir();
  try {
    const c = child(dir, "hang");
    const [tag, tmp] = (await c.line()).split(" ");
    assertEquals(tag, "PARTIAL");
    const partial = (await Deno.stat(tmp)).size;
    assert(partial > 0 && partial < 32 << 20, `temporary file holds part: ${partial}`);
    assertEquals((await c.kill()).signal, "SIGKILL");
    const back = await loadCheckpoint(`${dir}/last.ckpt`);
    assertEquals([back.epoch, back.weights["0.weight"].data.length], [1, 1000]);
    assertEquals(await removeStaleTemps(dir), [tmp.split("/").pop()]);
    assertEquals([...Deno.readDirSync(dir)].map((e) => e.name), ["last.ckpt"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("checkpoint: killed at an arbitrary moment of a write loop, the file is whole", async () => {
  const dir = await tempDir();
  try {
    const c = child(dir, "loop");
    assertEquals(await c.line(), "SAVED 1");
    await new Promise((r) => setTimeout(r, 150 + Math.random() * 200));
    await c.kill();
    const back = await loadCheckpoint(`${dir}/last.ckpt`);
    assert(back.epoch >= 1);
    assert(back.weights["0.weight"].data.every((v) => v === back.epoch));
    assertEquals(back.optimizer, { t: back.epoch, m: [new Float32Array(4).fill(-back.epoch)] });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
