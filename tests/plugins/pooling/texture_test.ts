/**
 * The windowed pools' scalar kernels reading their large inputs through flat textures
 * (`runReading`, where the adapter's storage loads are slow) give the storage reads' bits,
 * forward and backward, for average, max and Lp pooling on odd sizes: disjoint windows (the
 * backward scatters; the scene CNN's 3×3 stride 3) and overlapping ones (it gathers), both
 * against float64 references; the texture route is checked to have run. Inputs split into
 * chunks of planes: texture_split_test.ts.
 */
import { assert } from "../../assert.ts";
import { initGpu } from "../../../core/gpu.ts";
import { TEXTURE_MIN } from "../../../core/ops/texture_read.ts";
import {
  avgCase,
  compareRoutes,
  firstBitDiff,
  lpCase,
  maxCase,
  type PoolCase,
  readsThroughTexture,
} from "./texture_route.ts";

await initGpu();

async function check(c: PoolCase, shape: number[], seed: number) {
  const r = await compareRoutes(c, shape, seed);
  // every input of the texture route is large enough to take it
  const n = shape.reduce((a, b) => a * b, 1);
  assert(n / 4 >= TEXTURE_MIN && r.outSize / 4 >= TEXTURE_MIN, `${c.name}: ${n}, ${r.outSize}`);
  assert(
    r.tex.copies > 0 && r.sto.copies === 0,
    `${c.name}: copies ${r.tex.copies}, ${r.sto.copies}`,
  );
  for (const name of c.reads.fwd) {
    assert(readsThroughTexture(r.tex.codes.fwd, name) === 1, `${c.name}: forward reads ${name}`);
  }
  for (const name of c.reads.bwd) {
    assert(readsThroughTexture(r.tex.codes.bwd, name) === 1, `${c.name}: backward reads ${name}`);
  }
  for (const code of [...r.sto.codes.fwd, ...r.sto.codes.bwd]) {
    assert(!code.includes("texture_storage"), `${c.name}: the storage route read a texture`);
  }
  const fy = firstBitDiff(r.tex.y, r.sto.y), fdx = firstBitDiff(r.tex.dx, r.sto.dx);
  assert(fy < 0, `${c.name}: outputs differ at ${fy}: ${r.tex.y[fy]} vs ${r.sto.y[fy]}`);
  assert(fdx < 0, `${c.name}: gradients differ at ${fdx}: ${r.tex.dx[fdx]} vs ${r.sto.dx[fdx]}`);
  assert(r.fwdError <= 2e-6, `${c.name}: forward error ${r.fwdError}`);
  assert(r.gradError <= 2e-5, `${c.name}: gradient error ${r.gradError}`);
}

// 4·8 planes of 151×149 (719,968 floats); 3×3 windows give 50×49 or more outputs a plane
const DISJOINT = [4, 8, 151, 149];

Deno.test("pooling texture reads: disjoint windows (scatter backward) give the storage bits", async () => {
  const cases = [
    avgCase({ kernel: 3 }, { k: [3, 3], s: [3, 3] }, true), // the scene CNN's pools
    maxCase({ kernel: 3, padding: 1, ceilMode: true }, {
      k: [3, 3],
      s: [3, 3],
      p: [1, 1, 1, 1],
      ceil: true,
    }),
    lpCase({ kernel: 3 }, { k: [3, 3], s: [3, 3] }, 2),
  ];
  for (const [k, c] of cases.entries()) await check(c, DISJOINT, 10 + k);
});

// 4·3 planes of 77×73 (67,452 floats); stride-1 windows keep the size
const OVERLAPPING = [4, 3, 77, 73];

Deno.test("pooling texture reads: overlapping windows (gather backward) give the storage bits", async () => {
  const cases = [
    avgCase({ kernel: 3, stride: 1, padding: 1 }, { k: [3, 3], s: [1, 1], p: [1, 1, 1, 1] }, false),
    maxCase({ kernel: 3, stride: 1, padding: 2, dilation: 2 }, {
      k: [3, 3],
      s: [1, 1],
      d: [2, 2],
      p: [2, 2, 2, 2],
    }),
    lpCase({ kernel: 3, stride: 1, padding: 1 }, { k: [3, 3], s: [1, 1], p: [1, 1, 1, 1] }, 3),
  ];
  for (const [k, c] of cases.entries()) await check(c, OVERLAPPING, 20 + k);
});
