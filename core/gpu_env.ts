/**
 * The process environment of the GPU layer: the no-adapter message, the test switch that
 * forbids GPU work, and the private runtime folder that silences libwayland-client.
 *
 * @module
 */

/** The line printed when no WebGPU adapter exists. */
export const NO_ADAPTER: string =
  "no WebGPU adapter: install Mesa's software driver (apt-get install mesa-vulkan-drivers) " +
  "and run with DENO_WEBGPU_BACKEND=vulkan, or install your GPU's Vulkan driver";

/**
 * Test hook: with `WEBGPU_TRAIN_NO_GPU=1` in the environment, any attempt to start GPU work
 * (or a GPU-backed runtime) throws, so a test can prove that bad input is refused first.
 */
export function assertGpuAllowed(what: string): void {
  if (Deno.env.get("WEBGPU_TRAIN_NO_GPU") === "1") {
    throw new Error(`${what} called under WEBGPU_TRAIN_NO_GPU=1 (GPU work before validation)`);
  }
}

/**
 * Points `XDG_RUNTIME_DIR` at a private folder (mode 700) when it is unset, before the GPU
 * stack loads: libwayland-client, which the Vulkan and GL drivers load, prints
 * "XDG_RUNTIME_DIR is invalid or not set" on every start otherwise.
 */
export function ensureRuntimeDir(): void {
  if (Deno.build.os !== "linux" || Deno.env.get("XDG_RUNTIME_DIR")) return;
  try {
    const dir = `/tmp/webgpu-train-runtime-${Deno.uid() ?? 0}`;
    Deno.mkdirSync(dir, { recursive: true, mode: 0o700 });
    if (Deno.statSync(dir).uid !== Deno.uid()) return;
    Deno.chmodSync(dir, 0o700);
    Deno.env.set("XDG_RUNTIME_DIR", dir);
  } catch {
    // Only a warning's worth: leave the environment as it is.
  }
}

let avx512: boolean | null = null;

/**
 * Whether the host CPU has AVX-512 (Linux: the `avx512f` flag in /proc/cpuinfo; false where
 * that cannot be read). A software adapter (lavapipe) compiles its kernels for this CPU,
 * and the texture matmul's fastest tile depends on it (`core/ops/matmul.ts`).
 */
export function hostHasAvx512(): boolean {
  if (avx512 === null) {
    try {
      avx512 = /^flags\s*:.*\bavx512f\b/m.test(Deno.readTextFileSync("/proc/cpuinfo"));
    } catch {
      avx512 = false;
    }
  }
  return avx512;
}
