/**
 * Raw WebGPU harness for the matmul kernels of `core/ops/matmul_wgsl.ts`: creates its own
 * device, checks the kernels against a float64 TypeScript reference on odd shapes (all
 * four transpose combinations, bias, ReLU, alpha, accumulate, batch and broadcast), then
 * prints GFLOP/s for n = 256, 1024, 2048 (plain, A·Bᵀ and Aᵀ·B).
 *
 * ```
 * DENO_WEBGPU_BACKEND=vulkan deno run -A bench/matmul_raw.ts [--variant cpu|gpu]
 *   [--sizes 256,1024,2048] [--rounds 5] [--no-check] [--no-perf] [--tune]
 * ```
 *
 * @module
 */

import process from "node:process";
import {
  type CpuTuning,
  type KernelPlan,
  matmulPlan,
  type MatmulSpec,
  pickVariant,
} from "../core/ops/matmul_wgsl.ts";
import {
  matmulTexturePlan,
  type PackStep,
  type TexLimits,
  type TexTuning,
} from "../core/ops/matmul_texture.ts";

/** A device with the adapter's description and the kernel family picked for it. */
export interface RawDevice {
  /** The WebGPU device. */
  device: GPUDevice;
  /** Adapter description (e.g. "llvmpipe (LLVM 15.0.6, 256 bits)"). */
  description: string;
  /** Kernel family chosen by `pickVariant`. */
  variant: "cpu" | "gpu";
}

/** Requests an adapter and a device with the adapter's full storage limits. */
export async function openDevice(): Promise<RawDevice> {
  const adapter = await navigator.gpu?.requestAdapter();
  if (!adapter) {
    throw new Error(
      "no WebGPU adapter: install a GPU driver, or Mesa's mesa-vulkan-drivers and set " +
        "DENO_WEBGPU_BACKEND=vulkan",
    );
  }
  const device = await adapter.requestDevice({
    requiredLimits: {
      maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
      maxBufferSize: adapter.limits.maxBufferSize,
      maxTextureDimension2D: adapter.limits.maxTextureDimension2D,
      maxTextureArrayLayers: adapter.limits.maxTextureArrayLayers,
    },
  });
  return { device, description: adapter.info.description, variant: pickVariant(adapter.info) };
}

/** A compiled matmul with its buffers bound, ready to encode. */
export interface BoundMatmul {
  /** The plan it was compiled from. */
  plan: KernelPlan;
  /** Encodes one dispatch into `pass`. */
  encode(pass: GPUComputePassEncoder): void;
}

/** Compiles `plan` and binds the given buffers (A, B, C[, bias]). */
export function bindMatmul(
  device: GPUDevice,
  plan: KernelPlan,
  buffers: GPUBuffer[],
): BoundMatmul {
  const module = device.createShaderModule({ code: plan.code });
  const pipeline = device.createComputePipeline({
    layout: "auto",
    compute: { module, entryPoint: "main" },
  });
  const bindGroup = device.createBindGroup({
    layout: pipeline.getBindGroupLayout(0),
    entries: buffers.slice(0, plan.bindings).map((buffer, binding) => ({
      binding,
      resource: { buffer },
    })),
  });
  return {
    plan,
    encode(pass) {
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, bindGroup);
      pass.dispatchWorkgroups(...plan.workgroups);
    },
  };
}

/** Which kernel runs: the texture kernel (tuning: `TexTuning`) or the storage one. */
export type Kernel = { kind: "texture"; tuning?: Partial<TexTuning> } | {
  kind: "storage";
  tuning?: Partial<CpuTuning>;
};

function pipelineOf(device: GPUDevice, code: string): GPUComputePipeline {
  const module = device.createShaderModule({ code });
  return device.createComputePipeline({ layout: "auto", compute: { module, entryPoint: "main" } });
}

/**
 * Compiles the texture plan of `s` and binds the buffers (A, B, C[, bias]); `encode`
 * records the packing of both operands (into fresh textures) and the product, or the
 * product alone with `packing` false (the textures keep what the last packing wrote).
 */
export function bindTextureMatmul(
  device: GPUDevice,
  s: MatmulSpec,
  buffers: GPUBuffer[],
  tuning?: Partial<TexTuning>,
): { encode(enc: GPUCommandEncoder, packing?: boolean): void; code: string } {
  const lim: TexLimits = {
    maxDim: device.limits.maxTextureDimension2D,
    maxLayers: device.limits.maxTextureArrayLayers,
  };
  const plan = matmulTexturePlan(s, lim, tuning);
  if (!plan) throw new Error(`no texture plan for ${JSON.stringify(s)}`);
  const usage = GPUTextureUsage.TEXTURE_BINDING | GPUTextureUsage.STORAGE_BINDING |
    GPUTextureUsage.COPY_DST;
  const texs = [plan.a, plan.b].map((o) =>
    device.createTexture({
      size: [o.size.width, o.size.height, o.size.layers],
      format: "rgba32float",
      usage,
    })
  );
  const packs = [plan.a, plan.b].map((o, i) =>
    o.steps.map((st: PackStep) => {
      if (st.kind === "copy") return st;
      const p = pipelineOf(device, st.code);
      const bg = device.createBindGroup({
        layout: p.getBindGroupLayout(0),
        entries: [{ binding: 0, resource: { buffer: buffers[i] } }, {
          binding: 1,
          resource: texs[i].createView({ dimension: "2d-array" }),
        }],
      });
      return { p, bg, workgroups: st.workgroups };
    })
  );
  const p = pipelineOf(device, plan.code);
  const bg = device.createBindGroup({
    layout: p.getBindGroupLayout(0),
    entries: [
      { binding: 0, resource: texs[0].createView({ dimension: "2d-array" }) },
      { binding: 1, resource: texs[1].createView({ dimension: "2d-array" }) },
      { binding: 2, resource: { buffer: buffers[2] } },
      ...(s.bias ? [{ binding: 3, resource: { buffer: buffers[3] } }] : []),
    ],
  });
  return {
    code: plan.code,
    encode(enc, packing = true) {
      if (packing) {
        packs.forEach((steps, i) => {
          for (const st of steps) {
            if ("kind" in st) {
              enc.copyBufferToTexture(
                { buffer: buffers[i], offset: st.offset, bytesPerRow: st.bytesPerRow },
                { texture: texs[i], origin: [0, st.y, st.layer] },
                [st.bytesPerRow / 16, st.rows, 1],
              );
            } else {
              const pass = enc.beginComputePass();
              pass.setPipeline(st.p);
              pass.setBindGroup(0, st.bg);
              pass.dispatchWorkgroups(...st.workgroups);
              pass.end();
            }
          }
        });
      }
      const pass = enc.beginComputePass();
      pass.setPipeline(p);
      pass.setBindGroup(0, bg);
      pass.dispatchWorkgroups(...plan.workgroups);
      pass.end();
    },
  };
}

function storage(device: GPUDevice, data: Float32Array): GPUBuffer {
  const buffer = device.createBuffer({
    size: Math.max(16, data.byteLength),
    usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC,
  });
  device.queue.writeBuffer(buffer, 0, data as Float32Array<ArrayBuffer>);
  return buffer;
}

async function readBack(device: GPUDevice, src: GPUBuffer, length: number): Promise<Float32Array> {
  const staging = device.createBuffer({
    size: Math.max(16, length * 4),
    usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
  });
  const enc = device.createCommandEncoder();
  enc.copyBufferToBuffer(src, 0, staging, 0, length * 4);
  device.queue.submit([enc.finish()]);
  await staging.mapAsync(GPUMapMode.READ);
  const out = new Float32Array(staging.getMappedRange().slice(0, length * 4));
  staging.unmap();
  staging.destroy();
  return out;
}

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

/** Records one matmul of `s` (packing included) with `kernel` on `bufs` into `enc`. */
function encoderFor(
  device: GPUDevice,
  s: MatmulSpec,
  bufs: GPUBuffer[],
  kernel: Kernel,
): (enc: GPUCommandEncoder, packing?: boolean) => void {
  if (kernel.kind === "texture") return bindTextureMatmul(device, s, bufs, kernel.tuning).encode;
  const mm = bindMatmul(device, matmulPlan(s, kernel.tuning), bufs);
  return (enc) => {
    const pass = enc.beginComputePass();
    mm.encode(pass);
    pass.end();
  };
}

/** The kernel the engine uses for `variant`: textures on software adapters. */
export function defaultKernel(variant: "cpu" | "gpu"): Kernel {
  return variant === "cpu" ? { kind: "texture" } : { kind: "storage" };
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

function spec(
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

/** Median of a list of numbers. */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length % 2 ? s[h] : (s[h - 1] + s[h]) / 2;
}

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

function square(variant: "cpu" | "gpu", n: number, transA: boolean, transB: boolean): MatmulSpec {
  return spec(variant, n, n, n, { transA, transB });
}

async function main(): Promise<void> {
  const args = Deno.args;
  const opt = (name: string): string | undefined => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const { device, description, variant: picked } = await openDevice();
  const variant = (opt("variant") ?? picked) as "cpu" | "gpu";
  const sizes = (opt("sizes") ?? "256,1024,2048").split(",").map(Number);
  const rounds = Number(opt("rounds") ?? 5);
  const kinds = (opt("kernels") ?? (variant === "cpu" ? "texture,storage" : "storage"))
    .split(",") as Kernel["kind"][];
  console.log(`adapter: ${description}; kernel variant: ${variant}; kernels: ${kinds}`);

  if (args.includes("--tune")) {
    const n = sizes[0] === 256 && sizes.length > 1 ? sizes[1] : sizes[0];
    const grid = JSON.parse(opt("grid") ?? "null") as Partial<TexTuning>[] | null;
    const configs: Partial<TexTuning>[] = grid ?? [
      { tm: 4, tn: 4 },
      { tm: 4, tn: 8 },
      { tm: 8, tn: 4 },
      { tm: 8, tn: 8 },
      { tm: 4, tn: 16 },
      { tm: 8, tn: 16 },
      { tm: 16, tn: 8 },
    ];
    for (const t of configs) {
      const kernel: Kernel = { kind: "texture", tuning: t };
      const parts: string[] = [];
      for (
        const [name, ta, tb] of [["NN", false, false], ["NT", false, true], [
          "TN",
          true,
          false,
        ]] as const
      ) {
        const b = await benchOne(device, square(variant, n, ta, tb), rounds, kernel, false);
        parts.push(
          `${name} ${b.gflops.toFixed(1)} [${b.cpuGflops.toFixed(1)}] (${
            b.firstSeconds.toFixed(2)
          } s)`,
        );
      }
      console.log(`tune n=${n} ${JSON.stringify(t)}  ${parts.join("  ")}`);
    }
    return;
  }

  if (!args.includes("--no-check")) {
    for (const kind of kinds) {
      const t0 = performance.now();
      const [passed, failed] = await checkAll(device, variant, { kind });
      console.log(
        `correctness (${variant}, ${kind}): ${passed} passed, ${failed} failed ` +
          `(${((performance.now() - t0) / 1000).toFixed(1)} s)`,
      );
      if (failed) Deno.exitCode = 1;
    }
  }
  if (!args.includes("--no-perf")) {
    const forms = [["A·B", false, false], ["A·Bᵀ", false, true], ["Aᵀ·B", true, false], [
      "Aᵀ·Bᵀ",
      true,
      true,
    ]] as const;
    for (const n of sizes) {
      for (const [name, ta, tb] of forms) {
        const parts: string[] = [];
        for (const kind of kinds) {
          const r = await benchOne(device, square(variant, n, ta, tb), rounds, { kind });
          parts.push(
            `${kind} ${r.gflops.toFixed(1)} [${r.cpuGflops.toFixed(1)}] (first ${
              r.firstSeconds.toFixed(2)
            } s)`,
          );
          if (kind === "texture") {
            const k = await benchOne(device, square(variant, n, ta, tb), rounds, { kind }, false);
            parts.push(`texture kernel only ${k.gflops.toFixed(1)} [${k.cpuGflops.toFixed(1)}]`);
          }
        }
        console.log(`matmul n=${n} ${name} GFLOP/s: ${parts.join(", ")}`);
      }
    }
  }
  device.destroy();
}

if (import.meta.main) await main();
