import { assert, assertEquals } from "../assert.ts";
import { adapterVariant, bucketSize, gpu, initGpu } from "../../core/gpu.ts";
import { setSubmitPolicy } from "../../core/gpu_submit.ts";
import { elementwise } from "../../core/ops/raw.ts";
import { fromArray, tidy } from "../../core/tensor.ts";

Deno.test("bucketSize rounds up to 256-byte steps, then quarter powers of two", () => {
  assertEquals(bucketSize(1), 256);
  assertEquals(bucketSize(257), 512);
  assertEquals(bucketSize(65536), 65536);
  assertEquals(bucketSize(65537), 81920);
  for (let b = 1; b < 1 << 26; b = Math.ceil(b * 1.37)) {
    const s = bucketSize(b);
    assert(s >= b && s <= Math.max(256, b * 1.25 + 256), `bucket ${s} for ${b}`);
  }
});

Deno.test("adapterVariant: software adapters get the cpu kernels, real ones the gpu kernels", async () => {
  const info = (o: Record<string, unknown>) => o as unknown as GPUAdapterInfo;
  for (
    const d of ["llvmpipe (LLVM 15.0.6, 256 bits)", "Lavapipe", "SwiftShader Device", "Software"]
  ) {
    assertEquals(adapterVariant(info({ description: d })), "cpu", d);
  }
  assertEquals(adapterVariant(info({ description: "", device: "llvmpipe" })), "cpu");
  assertEquals(adapterVariant(info({ description: "", architecture: "swiftshader" })), "cpu");
  assertEquals(adapterVariant(info({ description: "x", isFallbackAdapter: true })), "cpu");
  assertEquals(adapterVariant(info({ description: "NVIDIA H200", architecture: "hopper" })), "gpu");
  const g = await initGpu();
  assertEquals(g.variant, adapterVariant(g.info));
});

Deno.test("the pool hands a released buffer out again; the pipeline cache is keyed by source", async () => {
  const g = await initGpu();
  assert(g === await initGpu(), "initGpu returns one device per process");
  const a = g.acquire(1000);
  const before = g.stats();
  g.release(a);
  const b = g.acquire(900);
  assert(a === b, "same bucket, same buffer");
  assertEquals(g.stats().createdBuffers, before.createdBuffers);
  g.release(b);
  const src = "@compute @workgroup_size(1) fn main() {}";
  assert(g.pipeline(src) === g.pipeline(src), "cached pipeline");
});

Deno.test("a buffer's version changes with every command that may write it, not with reads", async () => {
  const g = await initGpu();
  const a = g.acquire(64), b = g.acquire(64);
  const va = g.version(a), vb = g.version(b);
  const code = `@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@compute @workgroup_size(1) fn main() { y[0] = x[0]; }`;
  g.dispatch(code, [a, { buffer: b, offset: 0, size: 64 }], [1]);
  assertEquals(g.version(a), va, "read binding");
  assert(g.version(b) !== vb, "read_write binding");
  for (
    const [what, f] of [
      ["copy", () => g.copy(b, 0, a, 0, 16)],
      ["clear", () => g.clear(a)],
      ["upload", () => g.upload(a, new Float32Array(4))],
    ] as const
  ) {
    const v = g.version(a), other = g.version(b);
    f();
    assert(g.version(a) !== v, what);
    assertEquals(g.version(b), other, `${what}: the source keeps its version`);
  }
  const v = g.version(a);
  g.release(a);
  const again = g.acquire(64);
  assert(again === a && g.version(a) !== v, "handed out again: a new version");
  await g.sync();
  g.release(again);
  g.release(b);
});

Deno.test("upload and readback round-trip exactly, including odd lengths", async () => {
  await initGpu();
  for (const n of [1, 7, 63, 65, 257, 100_003]) {
    const v = Float32Array.from({ length: n }, (_, i) => Math.sin(i) * 1e3);
    const t = fromArray(v);
    const back = await t.data();
    assertEquals(back.length, n);
    assert(back.every((x, i) => x === v[i]), `round trip of ${n}`);
    t.dispose();
  }
});

Deno.test("upload is ordered with recorded commands and submits nothing; tidy submits (step policy)", async () => {
  await initGpu();
  const g = gpu();
  await g.sync();
  const t = fromArray([1, 2, 3, 4]);
  const s0 = g.stats().submits;
  // A kernel recorded before the upload reads the old values, one after it the new ones.
  const before = elementwise("a * 10.0", { a: t }, t.shape);
  g.upload(t.buffer, Float32Array.from([5, 6, 7, 8]));
  const after = elementwise("a * 10.0", { a: t }, t.shape);
  assertEquals(g.stats().submits, s0, "no submit for an upload");
  assertEquals(Array.from(await before.data()), [10, 20, 30, 40]);
  assertEquals(Array.from(await after.data()), [50, 60, 70, 80]);
  // With the "step" policy (real GPUs') the end of an outermost tidy submits its work (the
  // GPU runs a step while the host records the next one); gpu_submit_test.ts tests both.
  const policy = setSubmitPolicy("step");
  const s1 = g.stats().submits;
  tidy(() => void elementwise("a + 1.0", { a: t }, t.shape));
  assertEquals(g.stats().submits, s1 + 1);
  setSubmitPolicy(policy);
  for (const x of [t, before, after]) x.dispose();
});

Deno.test("windows() covers a byte range in aligned pieces no larger than one binding", async () => {
  const g = await initGpu();
  const total = g.maxBindingBytes * 2 + 1000;
  const ws = g.windows(total);
  assertEquals(ws.length, 3);
  assertEquals(ws.reduce((p, w) => p + w.size, 0), total);
  for (const w of ws) assert(w.offset % g.offsetAlign === 0 && w.size <= g.maxBindingBytes);
  gpu();
});

Deno.test("a lost device gives a clear error on the next use", async () => {
  const code = `
    import { initGpu } from "${new URL("../../core/gpu.ts", import.meta.url).href}";
    import { fromArray } from "${new URL("../../core/tensor.ts", import.meta.url).href}";
    const g = await initGpu();
    g.device.destroy();
    await new Promise((r) => setTimeout(r, 50));
    try { await fromArray([1, 2, 3]).data(); console.log("no error"); }
    catch (e) { console.log(e.message); }`;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", code],
    stdout: "piped",
    stderr: "null",
  }).output();
  const text = new TextDecoder().decode(out.stdout).trim();
  assert(/GPU device lost/.test(text), `got: ${text}`);
});

Deno.test("initGpu with XDG_RUNTIME_DIR unset prints no Wayland warning (a private runtime folder is used)", async () => {
  const gpuUrl = new URL("../../core/gpu.ts", import.meta.url).href;
  const env = { ...Deno.env.toObject() };
  delete env.XDG_RUNTIME_DIR;
  const r = await new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      `import { initGpu } from "${gpuUrl}"; await initGpu(); console.log(Deno.env.get("XDG_RUNTIME_DIR"));`,
    ],
    env,
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const err = new TextDecoder().decode(r.stderr), out = new TextDecoder().decode(r.stdout).trim();
  if (!r.success) throw new Error(err);
  if (/XDG_RUNTIME_DIR/.test(err)) throw new Error(`warning printed:\n${err}`);
  const info = Deno.statSync(out);
  if ((info.mode! & 0o777) !== 0o700) throw new Error(`${out} is not private`);
});
