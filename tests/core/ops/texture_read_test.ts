/**
 * Flat textures (`core/ops/texture_read.ts`): a kernel reading every vec4 of a buffer
 * through one gets the buffer's values back, for sizes that fill no row (1 texel, a row
 * less one, rows and a tail), from an offset into the buffer, and over several layers.
 */
import { assertEquals } from "../../assert.ts";
import { gpu, initGpu } from "../../../core/gpu.ts";
import { grid, main1d } from "../../../core/ops/kernel.ts";
import { flatDecl, flatLoad, flatTexture, setFlatMaxRows } from "../../../core/ops/texture_read.ts";
import { empty, fromArray } from "../../../core/tensor.ts";

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
