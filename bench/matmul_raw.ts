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
 * The pieces: `matmul_raw_gpu.ts` (device, kernels, buffers), `matmul_raw_check.ts` (the
 * float64 reference and the correctness suite), `matmul_raw_time.ts` (GFLOP/s of one
 * spec); this file is the command line and re-exports them.
 *
 * @module
 */

import type { TexTuning } from "../core/ops/matmul_texture.ts";
import { checkAll } from "./matmul_raw_check.ts";
import { type Kernel, openDevice } from "./matmul_raw_gpu.ts";
import { benchOne, square } from "./matmul_raw_time.ts";

export {
  bindMatmul,
  bindTextureMatmul,
  type BoundMatmul,
  defaultKernel,
  type Kernel,
  openDevice,
  type RawDevice,
} from "./matmul_raw_gpu.ts";
export { checkAll, checkOne, randomArray, referenceMatmul } from "./matmul_raw_check.ts";
export { benchOne, type BenchResult } from "./matmul_raw_time.ts";
/** Median of a list of numbers. */
export { median } from "./util.ts";

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
