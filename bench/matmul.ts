/**
 * Matmul throughput through the engine's own op (`matmul` after `initGpu`), for
 * n = 256, 1024, 2048: the plain product and the transposed forms the backward pass uses
 * (A·Bᵀ for dX-like products and Aᵀ·B for weight gradients), packing included. On
 * software adapters the storage-buffer kernel (before the texture kernel) runs beside it
 * in the same process for n ≤ 1024, and TensorFlow.js's WebGPU matMul on the same adapter
 * (a child process of the same run) is the peer for the plain product. The issue's goal: ≥ 25 GFLOP/s at n = 1024 on lavapipe.
 * On software adapters it also prints the FMA-loop peak and where the texture kernel's loop
 * spends its time (`bench/matmul_loads.ts`: A's texel loads, B's, the FMAs).
 */
import process from "node:process";
import { gpu, initGpu } from "../core/gpu.ts";
import { matmul, setCpuMatmulKernel } from "../core/ops/matmul.ts";
import { Rng } from "../core/random.ts";
import { fromArray, type Tensor } from "../core/tensor.ts";
import { flags, median, peer, ratio, torchPeer } from "./util.ts";
import { formatLoadShares, loadShares } from "./matmul_loads.ts";

/**
 * The adapter's FMA rate with no memory traffic, for scale: each invocation runs 1,024
 * iterations of `acc` independent vec4 FMA chains (no loads), and the best of 4, 8 and 16
 * chains (median of 3 rounds each) is the peak a product kernel could approach. On lavapipe
 * it moves with the processor behind the machine, which changes between sessions.
 */
async function fmaPeak(): Promise<{ gflops: number; chains: number }> {
  const g = gpu(), n = 32768, iters = 1024;
  const out = g.acquire(n * 16);
  let best = { gflops: 0, chains: 0 };
  for (const acc of [4, 8, 16]) {
    const ks = [...Array(acc).keys()];
    const code = `@group(0) @binding(0) var<storage, read_write> y: array<vec4<f32>>;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let i = gid.x;
  let m = vec4<f32>(0.9999, 0.9998, 0.9997, 0.9996);
  let c = vec4<f32>(f32(i) * 1e-6);
${ks.map((k) => `  var a${k} = vec4<f32>(f32(${k + 1}) * 0.1);`).join("\n")}
  for (var k = 0u; k < ${iters}u; k++) {
${ks.map((k) => `    a${k} = fma(a${k}, m, c);`).join("\n")}
  }
  y[i] = ${ks.map((k) => `a${k}`).join(" + ")};
}`;
    const run = async (reps: number) => {
      const t0 = performance.now();
      for (let r = 0; r < reps; r++) g.dispatch(code, [out], [n / 64]);
      await g.sync();
      return (performance.now() - t0) / 1000;
    };
    await run(1); // compiles
    const reps = Math.max(1, Math.min(50, Math.round(0.3 / await run(1))));
    const rates: number[] = [];
    for (let i = 0; i < 3; i++) rates.push((n * iters * acc * 8 * reps) / (await run(reps)) / 1e9);
    const r = median(rates);
    if (r > best.gflops) best = { gflops: r, chains: acc };
  }
  g.release(out);
  return best;
}

/** GFLOP/s (wall) and GFLOP per CPU-second × cores of `reps` products per timed round. */
async function rate(
  a: Tensor,
  b: Tensor,
  opts: { transA?: boolean; transB?: boolean },
  n: number,
): Promise<{ wall: number; cpu: number; first: number }> {
  const flops = 2 * n ** 3;
  const round = async (reps: number) => {
    const u0 = process.cpuUsage(), t0 = performance.now();
    for (let r = 0; r < reps; r++) matmul(a, b, opts).dispose();
    await gpu().sync();
    const s = (performance.now() - t0) / 1000, u = process.cpuUsage(u0);
    return { s, cpu: (u.user + u.system) / 1e6 };
  };
  const first = (await round(1)).s; // compiles
  const once = (await round(1)).s;
  const reps = Math.max(1, Math.min(50, Math.round(0.5 / once)));
  const walls: number[] = [], cpus: number[] = [];
  for (let i = 0; i < 3; i++) {
    const r = await round(reps);
    walls.push((flops * reps) / r.s / 1e9);
    cpus.push((flops * reps) / r.cpu / 1e9 * navigator.hardwareConcurrency);
  }
  return { wall: median(walls), cpu: median(cpus), first };
}

/** Prints the matmul benchmark (engine op, packing included) beside the issue's goal. */
export async function benchMatmul(): Promise<Record<string, unknown>> {
  const g = await initGpu();
  const rng = new Rng(1);
  const forms = [["A·B", {}], ["A·Bᵀ", { transB: true }], ["Aᵀ·B", { transA: true }]] as const;
  const kinds: ("texture" | "storage")[] = g.variant === "cpu" ? ["texture", "storage"] : [
    "texture",
  ];
  console.log(
    `matmul through the op, GFLOP/s wall [GFLOP per CPU-second × ${navigator.hardwareConcurrency} cores]` +
      ` (first call incl. compile); goal ≥ 25 at n = 1024 on lavapipe`,
  );
  const figures: Record<string, number> = {};
  const torch = flags.torch ? (await torchPeer(["matmul"])).matmul : undefined;
  const sizes = flags.quick ? [256] : [256, 1024, 2048];
  for (const n of sizes) {
    const a = fromArray(Float32Array.from({ length: n * n }, () => rng.uniform(-1, 1)), [n, n]);
    const b = fromArray(Float32Array.from({ length: n * n }, () => rng.uniform(-1, 1)), [n, n]);
    for (const [name, opts] of forms) {
      const parts: string[] = [];
      for (const kind of kinds) {
        if (kind === "storage" && n > 1024) continue;
        const old = setCpuMatmulKernel(kind);
        try {
          const r = await rate(a, b, opts, n);
          if (kind === "texture") figures[`${name} n=${n}`] = r.wall;
          const label = g.variant === "cpu" ? kind : "kernel";
          parts.push(
            `${label} ${r.wall.toFixed(1)} [${r.cpu.toFixed(1)}] (${r.first.toFixed(2)} s)`,
          );
        } finally {
          setCpuMatmulKernel(old);
        }
      }
      const pt = torch?.n === n ? (torch[name.replace("·", ".").replace("ᵀ", "^T")] as number) : 0;
      if (pt) parts.push(`pytorch-${torch!.device === "cpu" ? "cpu" : "cuda"} ${pt.toFixed(1)}`);
      if (pt) figures[`torch ${name} n=${n}`] = pt;
      if (name === "A·B" && n <= 1024 && flags.tfjs && !flags.quick) {
        const tfjs = await peer("bench/peers/tfjs.ts", ["matmul", String(n)]);
        const ours = parseFloat(parts[0].split(" ")[1]);
        parts.push(
          tfjs === null
            ? "tfjs-webgpu unavailable"
            : `tfjs-webgpu ${tfjs.toFixed(1)} (ratio ${(ours / tfjs).toFixed(1)}×)`,
        );
      }
      const goal = n === 1024 && g.variant === "cpu" ? "  (goal ≥ 25)" : "";
      console.log(`  n=${n} ${name}: ${parts.join(", ")}${goal}`);
    }
    a.dispose();
    b.dispose();
  }
  const peak = await fmaPeak();
  figures["fma peak"] = peak.gflops;
  const at1024 = ["A·B", "A·Bᵀ", "Aᵀ·B"].map((f) => figures[`${f} n=1024`]).filter((v) => v);
  console.log(
    `  FMA-loop peak (no memory, ${peak.chains} vec4 chains an invocation): ${
      peak.gflops.toFixed(1)
    } GFLOP/s${
      at1024.length
        ? `; the n = 1024 products reach ${
          at1024.map((v) => `${Math.round((100 * v) / peak.gflops)}%`).join(" / ")
        } of it`
        : ""
    }`,
  );
  if (g.variant === "cpu") {
    // The texture kernel's loop with its loads taken out (bench/matmul_loads.ts).
    const s = await loadShares(flags.quick ? 3 : 5);
    figures["loop with loads"] = s.full;
    figures["loop without A loads"] = s.noA;
    figures["loop without loads"] = s.noLoads;
    console.log(formatLoadShares(s));
  }
  const t = figures["torch A·B n=1024"];
  if (t) {
    console.log(
      `  ratio to PyTorch at n=1024: ${
        ["A·B", "A·Bᵀ", "Aᵀ·B"].map((f) =>
          `${f} ${ratio(figures[`${f} n=1024`], figures[`torch ${f} n=1024`])}`
        )
          .join(", ")
      }`,
    );
  }
  return { bench: "matmul", gflops: figures };
}

if (import.meta.main) console.log(JSON.stringify(await benchMatmul()));
