/**
 * Batch normalisation with a fused average pool (`avgPool` of `batchNorm`, kernels in
 * core/ops/batchnorm_pool.ts) against the float64 reference and central differences of it:
 * training and eval, with and without ReLU, square and rectangular windows, inputs whose
 * rows and columns the windows leave over (floor mode), planes of a multiple of 4 (the vec4
 * kernels) and not, and inputs large enough to be read through textures. Then the
 * Sequential fusion BatchNorm2d → ReLU → AvgPool2d against the three layers run one by one:
 * the same bits for the output, every gradient and the running statistics.
 */
import { assert, assertEquals } from "../../assert.ts";
import { backward } from "../../../core/autograd.ts";
import { initGpu } from "../../../core/gpu.ts";
import { ReLU } from "../../../core/nn/activation.ts";
import { BatchNorm2d } from "../../../core/nn/batchnorm.ts";
import { Sequential } from "../../../core/nn/sequential.ts";
import { batchNorm } from "../../../core/ops/batchnorm.ts";
import type { AvgPoolWindow } from "../../../core/ops/batchnorm_pool.ts";
import { mul } from "../../../core/ops/elementwise.ts";
import { sum } from "../../../core/ops/reduce.ts";
import { setTextureReads } from "../../../core/ops/texture_read.ts";
import { Rng } from "../../../core/random.ts";
import { fromArray, type Tensor, tidy } from "../../../core/tensor.ts";
import { AvgPool2d } from "../../../plugins/pooling/average.ts";
import { checkOp } from "./check.ts";

await initGpu();

/** Batch normalisation (given μ, σ² per channel), optional ReLU, then the window means. */
function reference(
  x: Float64Array,
  [N, C, H, W]: number[],
  mean: ArrayLike<number>,
  v: ArrayLike<number>,
  w: ArrayLike<number> | null,
  b: ArrayLike<number> | null,
  relu: boolean,
  { KH, KW }: AvgPoolWindow,
): Float64Array {
  const OH = Math.floor(H / KH), OW = Math.floor(W / KW);
  const y = new Float64Array(N * C * OH * OW);
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < C; c++) {
      const inv = 1 / Math.sqrt(v[c] + 1e-5), g = w ? w[c] : 1, be = b ? b[c] : 0;
      for (let oh = 0; oh < OH; oh++) {
        for (let ow = 0; ow < OW; ow++) {
          let s = 0;
          for (let ky = 0; ky < KH; ky++) {
            for (let kx = 0; kx < KW; kx++) {
              const xv = x[((n * C + c) * H + oh * KH + ky) * W + ow * KW + kx];
              const z = (xv - mean[c]) * inv * g + be;
              s += relu ? Math.max(z, 0) : z;
            }
          }
          y[((n * C + c) * OH + oh) * OW + ow] = s / (KH * KW);
        }
      }
    }
  }
  return y;
}

/** Per-channel batch mean and biased variance of [N, C, H, W] (float64). */
function batchStats(x: Float64Array, [N, C, H, W]: number[]) {
  const S = H * W, M = N * S;
  const mean = new Array(C).fill(0), v = new Array(C).fill(0);
  for (let i = 0; i < x.length; i++) mean[Math.floor(i / S) % C] += x[i] / M;
  for (let i = 0; i < x.length; i++) {
    v[Math.floor(i / S) % C] += (x[i] - mean[Math.floor(i / S) % C]) ** 2 / M;
  }
  return { mean, v };
}

// Pre-ReLU values away from the kink (central differences stay on one side of it): x in
// two clusters (|x| ≥ 1) around a small mean; γ positive, β and the running mean small.
const far = (r: Rng, k: number) =>
  k === 0
    ? (r.next() < 0.5 ? r.uniform(-3, -1) : r.uniform(1, 3))
    : k === 1
    ? r.uniform(0.3, 2)
    : k === 4
    ? r.uniform(0.2, 3)
    : r.uniform(-0.1, 0.1);

// [2, 3, 7, 8] with 3 × 3: a row and two columns no window covers, planes of 56 (vec4).
// [3, 2, 7, 9] with 2 × 3: rectangular, planes of 63 (scalar kernels). [2, 5, 16, 18] with
// 2 × 2: windows tile exactly, vec4 reductions. [2, 4, 96, 90] with 3 × 3: 69,120 values,
// read through textures on software adapters. [4, 3, 3, 4]: one output a plane.
const CASES: [number[], AvgPoolWindow][] = [
  [[2, 3, 7, 8], { KH: 3, KW: 3 }],
  [[3, 2, 7, 9], { KH: 2, KW: 3 }],
  [[2, 5, 16, 18], { KH: 2, KW: 2 }],
  [[2, 4, 96, 90], { KH: 3, KW: 3 }],
  [[4, 3, 3, 4], { KH: 3, KW: 3 }], // one window a plane (a 1 × 1 output)
];

Deno.test("batchNorm + avgPool: training forward and gradients (x, γ, β), with and without ReLU", async () => {
  for (const [s, win] of CASES) {
    for (const relu of [true, false]) {
      const C = s[1];
      await checkOp(
        (x, w, b) => batchNorm(x, w, b, null, null, { training: true, relu, avgPool: win }),
        ([x, w, b]: Float64Array[]) => {
          const { mean, v } = batchStats(x, s);
          return reference(x, s, mean, v, w, b, relu, win);
        },
        [s, [C], [C]],
        { gen: far, gradTol: 2e-4 },
      );
    }
  }
});

Deno.test("batchNorm + avgPool: eval with running statistics, with gradients and without", async () => {
  for (const [s, win] of CASES) {
    const C = s[1];
    const ref = ([x, w, b, rm, rv]: Float64Array[]) => reference(x, s, rm, rv, w, b, true, win);
    const op = (x: Tensor, w: Tensor, b: Tensor, rm: Tensor, rv: Tensor) =>
      batchNorm(x, w, b, rm, rv, { training: false, relu: true, avgPool: win });
    const shapes = [s, [C], [C], [C], [C]];
    await checkOp(op, ref, shapes, { gen: far, noGrad: [3, 4] });
    await checkOp(op, ref, shapes, { gen: far, noGrad: [0, 1, 2, 3, 4] }); // no autograd
  }
});

Deno.test("batchNorm + avgPool: a window larger than the input is refused", () => {
  const x = fromArray(new Float32Array(2 * 3 * 4 * 4), [2, 3, 4, 4]);
  let msg = "";
  try {
    batchNorm(x, null, null, null, null, { training: true, avgPool: { KH: 5, KW: 2 } });
  } catch (e) {
    msg = (e as Error).message;
  }
  x.dispose();
  assert(/does not fit/.test(msg), msg);
});

/** BatchNorm2d → ReLU → AvgPool2d(k) trained one step, fused or layer by layer. */
async function step(shape: number[], k: number, fused: boolean, textures: boolean) {
  const old = setTextureReads(textures);
  const rng = new Rng(9), C = shape[1];
  const gen = (n: number) => Float32Array.from({ length: n }, () => rng.uniform(-2, 2));
  const bn = new BatchNorm2d(C), relu = new ReLU(), pool = new AvgPool2d({ kernel: k });
  const net = new Sequential(bn, relu, pool);
  const x = fromArray(gen(shape.reduce((p, d) => p * d, 1)), shape);
  x.requiresGrad = true;
  const out = tidy(() => {
    const y = fused ? net.forward(x) : pool.forward(relu.forward(bn.forward(x)));
    const name = y.node?.name;
    backward(sum(mul(y, fromArray(gen(y.size), y.shape))));
    return { y: y.detach(), name };
  });
  setTextureReads(old);
  const ts = [out.y, x.grad!, bn.weight!.grad!, bn.bias!.grad!, bn.runningMean!, bn.runningVar!];
  const data = await Promise.all(ts.map((t) => t.data()));
  out.y.dispose();
  x.grad!.dispose();
  x.dispose();
  net.dispose();
  return { data, name: out.name };
}

Deno.test("BatchNorm2d → ReLU → AvgPool2d fused in a Sequential: the layers' bits, gradients and running statistics", async () => {
  // [2, 3, 14, 14]: storage reads; [2, 8, 70, 61] (68,320 values): texture reads where the
  // adapter has them. Rows and columns past the last window (14 = 4·3 + 2, 61 = 20·3 + 1).
  // [2, 3, 12, 16] with 2 × 2 windows: they tile the rows exactly, so the unfused pool runs
  // its vector kernels.
  const cases: [number[], number][] = [[[2, 3, 14, 14], 3], [[2, 8, 70, 61], 3], [
    [2, 3, 12, 16],
    2,
  ]];
  for (const [shape, k] of cases) {
    for (const textures of [false, true]) {
      const a = await step(shape, k, true, textures), b = await step(shape, k, false, textures);
      assertEquals(a.name, "batchNorm_relu_avgPool", "the Sequential should fuse the three");
      assert(b.name !== a.name, "layer by layer should not fuse");
      for (let k = 0; k < a.data.length; k++) {
        assert(a.data[k].some((v) => v !== 0), `${shape}: result ${k} is all zeros`);
        assertEquals(a.data[k], b.data[k], `${shape} textures ${textures}: result ${k} differs`);
      }
    }
  }
});
