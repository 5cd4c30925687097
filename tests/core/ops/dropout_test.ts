import { assert, assertClose, assertEquals, assertRejects } from "../../assert.ts";
import { gpu, initGpu } from "../../../core/gpu.ts";
import { setSubmitPolicy } from "../../../core/gpu_submit.ts";
import {
  applyDropoutMask,
  dropout,
  DropoutGenerator,
  dropoutMask,
  dropoutWithMask,
} from "../../../core/ops/dropout.ts";
import { deriveSeed, Rng } from "../../../core/random.ts";
import { fromArray, tidy } from "../../../core/tensor.ts";
import { checkOp } from "./check.ts";

// A CPU mirror of the masks, pinning the sequence: the key of draw `step` is that draw of
// the seed's "dropout" stream of the project's Rng, and element i is kept by the PCG hash
// (Jarzynski & Olano) of i + key, so a mask is a function of (seed, step, index) alone.
function pcg(v: number): number {
  const s = (Math.imul(v >>> 0, 747796405) + 2891336453) >>> 0;
  const w = Math.imul(((s >>> ((s >>> 28) + 4)) ^ s) >>> 0, 277803737) >>> 0;
  return ((w >>> 22) ^ w) >>> 0;
}
/** The generator state after `step` draws from `seed`. */
function refState(seed: number, step: number): Rng {
  const r = new Rng(deriveSeed(seed, "dropout"));
  for (let k = 0; k < step; k++) r.nextU32();
  return r;
}
function refMask(seed: number, step: number, n: number, p: number): Uint8Array {
  const key = refState(seed, step).nextU32();
  const thr = Math.min(2 ** 24, Math.ceil(p * 2 ** 24));
  return Uint8Array.from({ length: n }, (_, i) => (pcg((i + key) >>> 0) >>> 8 >= thr ? 1 : 0));
}

Deno.test("dropout: the mask is the (seed, step, index) hash, and y = x·mask/(1 − p), dx = g·mask/(1 − p)", async () => {
  for (const [n, p, seed] of [[1, 0.5, 0], [63, 0.1, 3], [257, 0.5, 42], [4097, 0.8, 7]]) {
    const mask = refMask(seed, 0, n, p);
    await checkOp(
      (x) => dropout(x, p, new DropoutGenerator(seed)),
      ([x]) => x.map((v, i) => (mask[i] ? v / (1 - p) : 0)),
      [[n]],
      { probes: 32 },
    );
  }
});

Deno.test("dropout: successive draws follow the generator's steps; the keep rate is 1 − p", async () => {
  await initGpu();
  const n = 100_000, p = 0.3;
  const gen = new DropoutGenerator(11);
  const x = fromArray(new Float32Array(n).fill(1));
  const masks: Float32Array[] = [];
  for (let s = 0; s < 3; s++) {
    const y = dropout(x, p, gen);
    masks.push(await y.data());
    y.dispose();
  }
  assertEquals(gen.state(), refState(11, 3).state());
  let same = 0;
  for (let s = 0; s < 3; s++) {
    const want = refMask(11, s, n, p);
    let kept = 0;
    for (let i = 0; i < n; i++) {
      const k = masks[s][i] !== 0;
      assert(k === (want[i] === 1), `step ${s} index ${i}`);
      if (k) {
        kept++;
        assertClose(masks[s][i], 1 / (1 - p), 1e-6);
      }
    }
    assertClose(kept / n, 1 - p, 0.01, `keep rate ${kept / n}`);
  }
  for (let i = 0; i < n; i++) if ((masks[0][i] !== 0) === (masks[1][i] !== 0)) same++;
  // Independent masks agree with probability p² + (1 − p)² = 0.58.
  assertClose(same / n, 0.58, 0.01, `agreement between steps ${same / n}`);
  x.dispose();
  gen.dispose();
});

Deno.test("dropout: a generator restored from state() continues the same sequence", async () => {
  await initGpu();
  const x = fromArray(Float32Array.from({ length: 999 }, (_, i) => i + 1));
  const a = new DropoutGenerator(5);
  for (let s = 0; s < 4; s++) dropout(x, 0.5, a).dispose();
  const saved = a.state();
  const ya = await dropout(x, 0.5, a).data();
  const b = new DropoutGenerator(123);
  dropout(x, 0.5, b).dispose(); // b's GPU state exists before the restore
  b.setState(saved);
  const yb = await dropout(x, 0.5, b).data();
  assertEquals([...ya], [...yb]);
  const c = new DropoutGenerator();
  c.setState(saved); // restored before first use
  assertEquals([...(await dropout(x, 0.5, c).data())], [...ya]);
  for (const t of [a, b, c]) t.dispose();
  x.dispose();
});

Deno.test("dropout: the GPU copy draws the CPU generator's numbers, and follows a shared Rng", async () => {
  await initGpu();
  const rng = new Rng(77);
  const gen = new DropoutGenerator(rng);
  const ref = Rng.fromState(rng.state());
  const keys: number[] = [];
  for (let s = 0; s < 3; s++) {
    const k = gen.nextKey();
    keys.push(new Uint32Array((await k.data()).buffer)[0]);
    k.dispose();
  }
  assertEquals(keys, [ref.nextU32(), ref.nextU32(), ref.nextU32()]);
  assertEquals(rng.state(), ref.state());
  rng.nextU32(); // drawn on the CPU by someone else: the GPU copy is uploaded again
  ref.nextU32();
  const k = gen.nextKey();
  assertEquals(new Uint32Array((await k.data()).buffer)[0], ref.nextU32());
  k.dispose();
  await assertRejects(() => gen.setState([1, 2]), /four unsigned 32-bit integers/);
  gen.dispose();
});

Deno.test("dropout: steps record no upload or submit; p = 0 is the identity, p = 1 zeros", async () => {
  const g = await initGpu();
  const gen = new DropoutGenerator(1);
  const x = fromArray(Float32Array.from({ length: 300 }, (_, i) => Math.cos(i)));
  x.requiresGrad = true;
  dropout(x, 0.5, gen).dispose(); // creates the generator's GPU state (one upload)
  await g.sync();
  const before = gpu().stats();
  const policy = setSubmitPolicy("step"); // (software adapters' default submits at a read)
  tidy(() => {
    for (let s = 0; s < 5; s++) dropout(x, 0.5, gen);
  });
  setSubmitPolicy(policy);
  const after = gpu().stats();
  assertEquals(after.uploads - before.uploads, 0);
  assertEquals(after.submits - before.submits, 1, "only the tidy's end submits");
  assertEquals(after.dispatches - before.dispatches, 10); // draw key + mask, per call
  assert(dropout(x, 0, gen) === x);
  const z = dropout(x, 1, gen);
  assertEquals([...(await z.data())].every((v) => v === 0), true);
  await assertRejects(() => dropout(x, 1.5, gen), /p must be in \[0, 1\]/);
  z.dispose();
  x.dispose();
  gen.dispose();
});

Deno.test("dropoutWithMask / applyDropoutMask: ONNX-style mask output, gradient through a given mask", async () => {
  await initGpu();
  const gen = new DropoutGenerator(9);
  const x = fromArray(Float32Array.from({ length: 200 }, (_, i) => i - 100));
  const { y, mask } = dropoutWithMask(x, 0.25, gen);
  const [yv, mv] = [await y.data(), await mask.data()];
  const want = refMask(9, 0, 200, 0.25);
  for (let i = 0; i < 200; i++) {
    assertEquals(mv[i], want[i]);
    assertClose(yv[i], (i - 100) * want[i] / 0.75, 1e-4);
  }
  // dropoutMask with an explicit key reproduces the same mask.
  const g2 = new DropoutGenerator(9);
  const key = g2.nextKey();
  assertEquals([...(await dropoutMask([200], 0.25, key).data())], [...mv]);
  const m = Float64Array.from({ length: 65 }, (_, i) => (i % 3 === 0 ? 0 : 1));
  await checkOp(
    (t) => applyDropoutMask(t, fromArray(m, [65]), 0.4),
    ([t]) => t.map((v, i) => v * m[i] / 0.6),
    [[65]],
  );
  for (const t of [x, y, mask, key]) t.dispose();
  gen.dispose();
  g2.dispose();
});

Deno.test("dropout: tensors larger than one binding are masked window by window", async () => {
  const here = new URL("../../../core/ops/dropout.ts", import.meta.url).href;
  const gpuUrl = new URL("../../../core/gpu.ts", import.meta.url).href;
  const tUrl = new URL("../../../core/tensor.ts", import.meta.url).href;
  const code = `
import { initGpu } from "${gpuUrl}";
import { dropout, DropoutGenerator } from "${here}";
import { fromArray } from "${tUrl}";
const g = await initGpu();
const x = fromArray(new Float32Array(50000).fill(2));
const y = await dropout(x, 0.5, new DropoutGenerator(4)).data();
console.log(JSON.stringify({ max: g.maxBindingBytes, y: Array.from(y, (v) => (v ? 1 : 0)).join("") }));
`;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", code],
    env: { WEBGPU_MAX_BINDING_BYTES: "65536" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert(out.success, new TextDecoder().decode(out.stderr));
  const r = JSON.parse(new TextDecoder().decode(out.stdout).trim().split("\n").pop()!);
  assertEquals(r.max, 65536);
  assertEquals(r.y, refMask(4, 0, 50000, 0.5).join(""));
});
