/**
 * Flat textures (`core/ops/texture_read.ts`): a kernel reading every vec4 of a buffer
 * through one gets the buffer's values back, for sizes that fill no row (1 texel, a row
 * less one, rows and a tail), from an offset into the buffer, and over several layers;
 * `runReading` rewrites a kernel's f32 loads (with `scalars`) and vec4 loads, of tensors
 * and of windows at 16-byte offsets, into texture loads of the same values, and leaves the
 * bindings it cannot take on storage.
 */
import { assert, assertEquals } from "../../assert.ts";
import { type BufferWindow, gpu, initGpu } from "../../../core/gpu.ts";
import { grid, main1d } from "../../../core/ops/kernel.ts";
import {
  flatDecl,
  flatLoad,
  flatTexture,
  type ReadingOptions,
  runReading,
  setFlatMaxRows,
  setTextureReads,
  TEXTURE_MIN,
} from "../../../core/ops/texture_read.ts";
import { empty, fromArray, type Tensor } from "../../../core/tensor.ts";
import { countTextureCopies } from "./check.ts";

await initGpu();

/** Reads `texels` vec4s of `src` from vec4 `at` through a flat texture, as a Float32Array. */
async function roundTrip(values: Float32Array, at: number, texels: number): Promise<Float32Array> {
  const g = gpu();
  const src = fromArray(values, [values.length]), out = empty([texels * 4]);
  const t = flatTexture(src.buffer, at * 16, texels)!;
  const code = `${flatDecl(0, "T")}
@group(0) @binding(1) var<storage, read_write> y: array<vec4<f32>>;
${main1d(texels)}
  y[i] = ${flatLoad("T", "i", t)};
}`;
  g.dispatch(
    code,
    [g.view(t.tex), { buffer: out.buffer, offset: 0, size: out.bytes }],
    grid(texels),
  );
  g.releaseTexture(t.tex);
  const got = await out.data();
  src.dispose();
  out.dispose();
  return got;
}

Deno.test("flat texture: every vec4 read back, sizes that fill no row, an offset", async () => {
  for (const [texels, at] of [[1, 0], [1023, 0], [3 * 1024 + 7, 0], [2048, 5]]) {
    const values = Float32Array.from({ length: (texels + at) * 4 }, (_, k) => k * 0.5 - 7);
    const got = await roundTrip(values, at, texels);
    assertEquals([...got], [...values.subarray(at * 4)], `${texels} texels from ${at}`);
  }
});

Deno.test("flat texture: one copy a submission of an unchanged range; a write or a submit copies again", async () => {
  const g = gpu(), n = 2 * 1024 + 3;
  const a = Float32Array.from({ length: n * 4 }, (_, k) => k * 0.25 - 3);
  const b = Float32Array.from({ length: n * 4 }, (_, k) => 5 - k * 0.5);
  const src = fromArray(a, [n * 4]);
  const outs = [0, 1, 2].map(() => empty([n * 4]));
  const live0 = g.stats().liveTextures;
  // Reads `t` into `out` (recorded, not submitted).
  const readInto = (t: { tex: GPUTexture; rows: number; layers: number }, out: Tensor) =>
    g.dispatch(
      `${flatDecl(0, "T")}
@group(0) @binding(1) var<storage, read_write> y: array<vec4<f32>>;
${main1d(n)}
  y[i] = ${flatLoad("T", "i", t)};
}`,
      [g.view(t.tex), { buffer: out.buffer, offset: 0, size: out.bytes }],
      grid(n),
    );
  const { copies } = countTextureCopies(() => {
    const t1 = flatTexture(src.buffer, 0, n)!, t2 = flatTexture(src.buffer, 0, n)!;
    assertEquals(t1.tex, t2.tex, "the same range again: the same texture");
    readInto(t1, outs[0]);
    g.releaseTexture(t1.tex);
    g.releaseTexture(t2.tex); // pinned: both releases wait for the submit
    g.upload(src.buffer, b); // a write: the next flat texture is a new copy
    const t3 = flatTexture(src.buffer, 0, n)!;
    assert(t3.tex !== t1.tex, "a copy after a write");
    readInto(t3, outs[1]);
    g.releaseTexture(t3.tex);
    const t4 = flatTexture(src.buffer, 16, n - 1)!; // another range
    assert(t4.tex !== t3.tex, "another range");
    g.releaseTexture(t4.tex);
  });
  assertEquals(copies, 3 * 2, "a row-and-tail copy pair for each of three ranges");
  await g.sync();
  assertEquals(g.stats().liveTextures, live0, "every texture back in the pool after the submit");
  // The last submission's textures are back in the pool: other buffers' copies take them
  // first, and src's range (unchanged since) is copied again, not found in one of them.
  const others = [1, 2, 3].map((v) => fromArray(new Float32Array(n * 4).fill(v), [n * 4]));
  const { copies: again } = countTextureCopies(() => {
    const ts = others.map((o) => flatTexture(o.buffer, 0, n)!);
    const t5 = flatTexture(src.buffer, 0, n)!;
    assert(ts.every((t) => t.tex !== t5.tex), "src's copy is a texture of its own");
    readInto(t5, outs[2]);
    for (const t of [...ts, t5]) g.releaseTexture(t.tex);
  });
  assertEquals(again, 4 * 2, "a new submission copies again");
  const got = await Promise.all(outs.map((o) => o.data()));
  assertEquals([...got[0]], [...a], "read before the write: the old values");
  assertEquals([...got[1]], [...b], "read after the write: the new values");
  assertEquals([...got[2]], [...b], "the next submission: the new values");
  for (const t of [src, ...outs, ...others]) t.dispose();
});

Deno.test("flat texture: several layers (rows a layer capped), full layers and a tail", async () => {
  const old = setFlatMaxRows(3);
  try {
    for (const texels of [3 * 1024, 7 * 1024 + 100, 9 * 1024 + 1]) {
      const values = Float32Array.from({ length: texels * 4 }, (_, k) => (k % 977) - 400);
      const got = await roundTrip(values, 0, texels);
      assertEquals([...got], [...values], `${texels} texels`);
    }
  } finally {
    setFlatMaxRows(old);
  }
});

/**
 * Runs `y[i] = x[i] * 2` over `n` elements of `x` (a tensor or a window of one) through
 * `runReading` with texture reads forced on; returns y and whether x was read through a
 * texture (the rewritten kernel was dispatched).
 */
async function copyThrough(
  x: Tensor | BufferWindow,
  n: number,
  type: "f32" | "vec4<f32>",
  opts: ReadingOptions,
): Promise<{ y: Float32Array; viaTexture: boolean }> {
  const g = gpu(), y = empty([n * (type === "f32" ? 1 : 4)]);
  const code = `@group(0) @binding(0) var<storage, read> x: array<${type}>;
@group(0) @binding(1) var<storage, read_write> y: array<${type}>;
${main1d(n)}
  y[i] = x[i] * 2.0;
}`;
  const codes: string[] = [];
  const prev = g.setHook({
    dispatch: (d) => void codes.push(d.code),
    command: () => {},
    beforeSubmit: () => {},
  });
  const old = setTextureReads(true);
  try {
    runReading(code, [x, y], ["x", null], grid(n), opts);
  } finally {
    setTextureReads(old);
    g.setHook(prev);
  }
  const out = await y.data();
  y.dispose();
  return { y: out, viaTexture: codes.length === 1 && codes[0].includes("fn x_at(") };
}

/** Asserts the route `copyThrough` took and its values (the first difference reported). */
function expect(r: { y: Float32Array; viaTexture: boolean }, texture: boolean, want: number[]) {
  assertEquals(r.viaTexture, texture, "route");
  assertEquals(r.y.length, want.length, "length");
  const k = r.y.findIndex((v, i) => v !== want[i]);
  assertEquals(k, -1, `first difference at ${k}: ${r.y[k]} vs ${want[k]}`);
}

Deno.test("runReading: f32 bindings through textures with `scalars` (tensors, windows at offsets)", async () => {
  const n = TEXTURE_MIN * 4 + 36, lead = 64; // floats; a window from byte 256
  const values = Float32Array.from({ length: lead + n + 3 }, (_, k) => (k % 1013) * 0.25 - 99);
  const t = fromArray(values.subarray(lead, lead + n), [n]);
  const all = fromArray(values, [values.length]);
  const want = (from: number, len: number) =>
    [...values.subarray(from, from + len)].map((v) => v * 2);
  try {
    let r = await copyThrough(t, n, "f32", { scalars: true });
    expect(r, true, want(lead, n));
    r = await copyThrough({ buffer: all.buffer, offset: lead * 4, size: n * 4 }, n, "f32", {
      scalars: true,
    });
    expect(r, true, want(lead, n));
    // without `scalars`, f32 bindings stay on storage (the vec4-only behaviour)
    r = await copyThrough(t, n, "f32", {});
    expect(r, false, want(lead, n));
    // a window whose size is not a multiple of 16 bytes (storage offsets are 256-byte
    // aligned), a tensor of n − 1 floats and one under TEXTURE_MIN vec4s stay on storage
    const w = { buffer: all.buffer, offset: lead * 4, size: n * 4 - 4 };
    r = await copyThrough(w, n - 1, "f32", { scalars: true });
    expect(r, false, want(lead, n - 1));
    for (const len of [n - 1, TEXTURE_MIN * 4 - 4]) {
      const s = fromArray(values.subarray(0, len), [len]);
      r = await copyThrough(s, len, "f32", { scalars: true });
      s.dispose();
      expect(r, false, want(0, len));
    }
    // vec4 bindings: a tensor as before, and now windows at offsets
    r = await copyThrough(t, n / 4, "vec4<f32>", {});
    expect(r, true, want(lead, n));
    r = await copyThrough(
      { buffer: all.buffer, offset: lead * 4, size: n * 4 },
      n / 4,
      "vec4<f32>",
      {},
    );
    expect(r, true, want(lead, n));
  } finally {
    t.dispose();
    all.dispose();
  }
});
