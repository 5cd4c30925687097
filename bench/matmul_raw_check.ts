/**
 * The correctness side of the raw matmul harness (`bench/matmul_raw.ts`): a float64
 * TypeScript reference of `matmulPlan`'s semantics and the suite of odd shapes (all four
 * transpose combinations, bias, ReLU, alpha, accumulate, batch and broadcast) each kernel
 * is checked on.
 *
 * @module
 */

import type { MatmulSpec } from "../core/ops/matmul_wgsl.ts";
import { defaultKernel, encoderFor, type Kernel, readBack, storage } from "./matmul_raw_gpu.ts";

/** Deterministic pseudo-random numbers in [-1, 1) (mulberry32). */
export function randomArray(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = (((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1;
  }
  return out;
}

/** Plain float64 reference of `matmulPlan`'s semantics; `c0` is C before (for accumulate). */
export function referenceMatmul(
  s: MatmulSpec,
  a: Float32Array,
  b: Float32Array,
  bias: Float32Array | null,
  c0: Float32Array,
): Float64Array {
  const { batch, M, N, K } = s;
  const out = new Float64Array(batch * M * N);
  const alpha = s.alpha ?? 1;
  for (let z = 0; z < batch; z++) {
    const ao = z * s.aBatchStride, bo = z * s.bBatchStride;
    for (let m = 0; m < M; m++) {
      for (let n = 0; n < N; n++) {
        let acc = 0;
        for (let k = 0; k < K; k++) {
          const av = s.transA ? a[ao + k * M + m] : a[ao + m * K + k];
          const bv = s.transB ? b[bo + n * K + k] : b[bo + k * N + n];
          acc += av * bv;
        }
        let v = alpha * acc;
        if (bias) v += bias[n];
        if (s.relu) v = Math.max(v, 0);
        const idx = (z * M + m) * N + n;
        out[idx] = s.accumulate ? c0[idx] + v : v;
      }
    }
  }
  return out;
}

/** Runs one spec on the device and returns the max error relative to max(1, max|ref|). */
export async function checkOne(
  device: GPUDevice,
  s: MatmulSpec,
  seed: number,
  kernel: Kernel = defaultKernel(s.variant),
): Promise<number> {
  const aLen = (s.aBatchStride * (s.batch - 1)) + s.M * s.K;
  const bLen = (s.bBatchStride * (s.batch - 1)) + s.K * s.N;
  const cLen = s.batch * s.M * s.N;
  const a = randomArray(aLen, seed);
  const b = randomArray(bLen, seed + 1);
  const bias = s.bias ? randomArray(s.N, seed + 2) : null;
  const c0 = randomArray(cLen, seed + 3);
  const bufs = [storage(device, a), storage(device, b), storage(device, c0)];
  if (bias) bufs.push(storage(device, bias));
  const encode = encoderFor(device, s, bufs, kernel);
  const enc = device.createCommandEncoder();
  encode(enc);
  device.queue.submit([enc.finish()]);
  const got = await readBack(device, bufs[2], cLen);
  for (const x of bufs) x.destroy();
  const ref = referenceMatmul(s, a, b, bias, c0);
  let maxRef = 1, maxErr = 0;
  for (let i = 0; i < cLen; i++) {
    maxRef = Math.max(maxRef, Math.abs(ref[i]));
    const e = Math.abs(got[i] - ref[i]);
    maxErr = Number.isNaN(e) ? Infinity : Math.max(maxErr, e);
  }
  return maxErr / maxRef;
}

/** A single (batch 1, contiguous) `variant` spec of M×K · K×N, with `extra` on top. */
export function spec(
  variant: "cpu" | "gpu",
  M: number,
  N: number,
  K: number,
  extra: Partial<MatmulSpec> = {},
): MatmulSpec {
  const s: MatmulSpec = {
    batch: 1,
    M,
    N,
    K,
    transA: false,
    transB: false,
    aBatchStride: M * K,
    bBatchStride: K * N,
    bias: false,
    relu: false,
    variant,
    ...extra,
  };
  return s;
}

/** The correctness suite: returns [passed, failed] and prints one line per failure. */
export async function checkAll(
  device: GPUDevice,
  variant: "cpu" | "gpu",
  kernel: Kernel = defaultKernel(variant),
): Promise<[number, number]> {
  const cases: MatmulSpec[] = [];
  const dims: [number, number, number][] = [
    [1, 1, 1],
    [7, 7, 7],
    [1, 65, 7],
    [63, 1, 65],
    [65, 63, 1],
    [63, 65, 257],
    [257, 7, 63],
    [7, 257, 65],
    [64, 64, 64],
    [129, 33, 17],
  ];
  for (const [M, N, K] of dims) {
    for (const transA of [false, true]) {
      for (const transB of [false, true]) cases.push(spec(variant, M, N, K, { transA, transB }));
    }
  }
  const epi: Partial<MatmulSpec>[] = [
    { bias: true },
    { relu: true },
    { bias: true, relu: true },
    { alpha: 0.5, accumulate: true },
    { bias: true, relu: true, alpha: -2, accumulate: true },
  ];
  for (const e of epi) {
    cases.push(spec(variant, 65, 63, 33, e));
    cases.push(spec(variant, 7, 17, 257, { ...e, transA: true, transB: true }));
  }
  // Batched, strided and broadcast operands.
  cases.push(spec(variant, 7, 65, 63, { batch: 3, aBatchStride: 7 * 63, bBatchStride: 63 * 65 }));
  cases.push(spec(variant, 33, 9, 17, { batch: 5, aBatchStride: 0, bBatchStride: 17 * 9 }));
  cases.push(
    spec(variant, 33, 9, 17, { batch: 4, aBatchStride: 33 * 17, bBatchStride: 0, transB: true }),
  );
  cases.push(
    spec(variant, 17, 65, 9, {
      batch: 2,
      aBatchStride: 17 * 9 + 5,
      bBatchStride: 9 * 65 + 3,
      transA: true,
      bias: true,
      relu: true,
    }),
  );
  // Larger than 65535 workgroups in one dimension (folded grid).
  cases.push(spec(variant, 1, 3, 2, { batch: 70000, aBatchStride: 2, bBatchStride: 6 }));
  let passed = 0, failed = 0;
  let seed = 1;
  for (const s of cases) {
    const err = await checkOne(device, s, seed += 7, kernel);
    if (err <= 1e-5) passed++;
    else {
      failed++;
      const { variant: _v, ...rest } = s;
      console.log(`  FAIL rel.err ${err.toExponential(2)} ${JSON.stringify(rest)}`);
    }
  }
  return [passed, failed];
}
