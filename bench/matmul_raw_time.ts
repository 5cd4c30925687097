/**
 * The timing side of the raw matmul harness (`bench/matmul_raw.ts`): GFLOP/s of one spec,
 * by wall clock and per CPU-second of this process (robust to other processes sharing the
 * cores).
 *
 * @module
 */

import process from "node:process";
import type { MatmulSpec } from "../core/ops/matmul_wgsl.ts";
import { randomArray, spec } from "./matmul_raw_check.ts";
import { defaultKernel, encoderFor, type Kernel, storage } from "./matmul_raw_gpu.ts";
import { median } from "./util.ts";

/** The cores the software adapter may use (for the CPU-time normalised rate). */
const CORES = navigator.hardwareConcurrency;

/** A benchmark result. */
export interface BenchResult {
  /** Median GFLOP/s (wall clock). */
  gflops: number;
  /**
   * Median GFLOP per CPU-second of this process × the core count: the rate on an idle
   * machine, robust to other processes sharing the cores.
   */
  cpuGflops: number;
  /** Seconds of the first run (shader compilation included). */
  firstSeconds: number;
}

/**
 * Measures GFLOP/s of a matmul: each round encodes `reps` matmuls (packing included
 * unless `packing` is false) into one submit and waits once; returns the median over
 * `rounds` rounds, and the seconds of the first (compiling) run.
 */
export async function benchOne(
  device: GPUDevice,
  s: MatmulSpec,
  rounds: number,
  kernel: Kernel = defaultKernel(s.variant),
  packing = true,
): Promise<BenchResult> {
  const flops = 2 * s.batch * s.M * s.N * s.K;
  const bufs = [
    storage(device, randomArray(s.M * s.K * (s.aBatchStride ? s.batch : 1), 1)),
    storage(device, randomArray(s.K * s.N * (s.bBatchStride ? s.batch : 1), 2)),
    storage(device, new Float32Array(s.batch * s.M * s.N)),
    storage(device, randomArray(s.N, 3)),
  ];
  const t0 = performance.now();
  const encode = encoderFor(device, s, bufs, kernel);
  const run = async (reps: number, pack = packing): Promise<number> => {
    const enc = device.createCommandEncoder();
    for (let r = 0; r < reps; r++) encode(enc, pack);
    const t0 = performance.now();
    device.queue.submit([enc.finish()]);
    await device.queue.onSubmittedWorkDone();
    return (performance.now() - t0) / 1000;
  };
  await run(1, true); // compile + warm-up (and fill the textures)
  const first = (performance.now() - t0) / 1000;
  const once = await run(1);
  // Aim for about 0.4 s per round so the ~11 ms completion wait is small.
  const reps = Math.max(2, Math.min(200, Math.round(0.4 / Math.max(once, 1e-4))));
  const rates: number[] = [], cpuRates: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const u0 = process.cpuUsage();
    rates.push((flops * reps) / (await run(reps)) / 1e9);
    const u = process.cpuUsage(u0);
    cpuRates.push((flops * reps) / ((u.user + u.system) / 1e6) / 1e9 * CORES);
  }
  for (const b of bufs) b.destroy();
  return { gflops: median(rates), cpuGflops: median(cpuRates), firstSeconds: first };
}

/** The square n×n·n×n spec with the given transposes. */
export function square(
  variant: "cpu" | "gpu",
  n: number,
  transA: boolean,
  transB: boolean,
): MatmulSpec {
  return spec(variant, n, n, n, { transA, transB });
}
