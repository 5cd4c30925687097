/**
 * What every matmul kernel generator shares (pure: no WebGPU calls): the spec of a
 * product, its validation, the storage-binding header, the workgroup grid that folds past
 * 65,535, and the epilogue (scale, bias, ReLU, accumulation) of one output value.
 * `matmul_wgsl.ts` (storage-buffer kernels) and `matmul_texture.ts` build on it.
 *
 * @module
 */
import { lit } from "./kernel.ts";

/** What to multiply: `C[b] = relu?(alpha · op(A[b]) · op(B[b]) + bias)`, optionally added to `C`. */
export interface MatmulSpec {
  /** Number of matrices in the batch (≥ 1). */
  batch: number;
  /** Rows of `op(A)` and of `C`. */
  M: number;
  /** Columns of `op(B)` and of `C`. */
  N: number;
  /** Inner dimension: columns of `op(A)`, rows of `op(B)`. */
  K: number;
  /** `A` is stored `[K][M]` (so `op(A) = Aᵀ`) instead of `[M][K]`. */
  transA: boolean;
  /** `B` is stored `[N][K]` (so `op(B) = Bᵀ`) instead of `[K][N]`. */
  transB: boolean;
  /** Elements between consecutive batch matrices of `A`; 0 broadcasts one `A` over the batch. */
  aBatchStride: number;
  /** Elements between consecutive batch matrices of `B`; 0 broadcasts one `B` over the batch. */
  bBatchStride: number;
  /** Add `bias[n]` (binding 3, length `N`) to every row. */
  bias: boolean;
  /** Apply ReLU to the result (after scale and bias, before accumulation). */
  relu: boolean;
  /** Scale of the product (default 1). */
  alpha?: number;
  /** `C += result` instead of `C = result` (`C` is `[batch][M][N]`, contiguous). */
  accumulate?: boolean;
  /**
   * Software adapters: a transposed `B` is read N-major from its texture (lines of `N`
   * floats, as a `[K][N]` B is stored), the faster layout for up to 1024 columns where a
   * caller fills the texture once for many products (Winograd's transformed weights).
   */
  bNMajor?: boolean;
  /** Kernel family: `"cpu"` for software adapters, `"gpu"` for real GPUs. */
  variant: "cpu" | "gpu";
}

/** A generated kernel: WGSL source, the dispatch size and the number of bindings. */
export interface KernelPlan {
  /** WGSL source with entry point `main`; bindings 0 A, 1 B, 2 C (read_write), 3 bias. */
  code: string;
  /** Workgroup counts for `dispatchWorkgroups` (each ≤ 65535). */
  workgroups: [number, number, number];
  /** Number of bindings in group 0 (3, or 4 with bias). */
  bindings: number;
}

const MAX_WG_PER_DIM = 65535;

/** Throws unless the sizes of `s` are positive integers, strides non-negative, C addressable. */
export function validate(s: MatmulSpec): void {
  for (const [name, v] of [["batch", s.batch], ["M", s.M], ["N", s.N], ["K", s.K]] as const) {
    if (!Number.isInteger(v) || v < 1) {
      throw new Error(`matmulPlan: ${name} must be a positive integer, got ${v}`);
    }
  }
  for (const [name, v] of [["aBatchStride", s.aBatchStride], ["bBatchStride", s.bBatchStride]]) {
    if (!Number.isInteger(v) || (v as number) < 0) {
      throw new Error(`matmulPlan: ${name} must be a non-negative integer, got ${v}`);
    }
  }
  const total = s.batch * s.M * s.N;
  if (total > 2 ** 32 - 1) throw new Error(`matmulPlan: output of ${total} elements is too large`);
}

/** A WGSL u32 literal. */
export function u32(v: number): string {
  return `${v}u`;
}

/**
 * A register tile (`tm` × `tn`, multiples of 4) shrunk for a small output of `s`, halving
 * the larger side until at least 16 invocations (two 8-lane groups, one per core) have
 * work or the tile is 4 × 4.
 */
export function shrinkTile(s: MatmulSpec, tm0: number, tn0: number): [number, number] {
  const up4 = (v: number) => Math.max(4, Math.ceil(v / 4) * 4);
  let tm = Math.min(tm0, up4(s.M));
  let tn = Math.min(tn0, up4(s.N));
  const work = () => Math.ceil(s.M / tm) * Math.ceil(s.N / tn) * s.batch;
  while (work() < 16 && (tm > 4 || tn > 4)) {
    if (tm >= tn) tm = up4(tm / 2);
    else tn = up4(tn / 2);
  }
  return [tm, tn];
}

/** The storage bindings of A, B, C (and bias) and the size constants; vec4 views as asked. */
export function header(s: MatmulSpec, aVec = false, bVec = false, cVec = false): string {
  const t = (v: boolean) => v ? "vec4<f32>" : "f32";
  return [
    `@group(0) @binding(0) var<storage, read> A: array<${t(aVec)}>;`,
    `@group(0) @binding(1) var<storage, read> B: array<${t(bVec)}>;`,
    `@group(0) @binding(2) var<storage, read_write> C: array<${t(cVec)}>;`,
    ...(s.bias ? [`@group(0) @binding(3) var<storage, read> bias: array<f32>;`] : []),
    ``,
    `const M = ${u32(s.M)};`,
    `const N = ${u32(s.N)};`,
    `const K = ${u32(s.K)};`,
    `const A_BATCH = ${u32(s.aBatchStride)};`,
    `const B_BATCH = ${u32(s.bBatchStride)};`,
    ``,
  ].join("\n");
}

/**
 * Grid: tiles along N (`gx`), along M (`gy`) and the batch (`gz`). When a dimension
 * exceeds 65535 the grid is folded into a linear index over two dimensions and decoded
 * in the shader; `decode` is WGSL that defines `tx`, `ty` and `bz` (named `zName`) from `wg`.
 */
export function tileGrid(gx: number, gy: number, gz: number, zName = "bz"): {
  workgroups: [number, number, number];
  decode: string;
} {
  if (gx <= MAX_WG_PER_DIM && gy <= MAX_WG_PER_DIM && gz <= MAX_WG_PER_DIM) {
    return {
      workgroups: [gx, gy, gz],
      decode: `  let tx = wg.x;\n  let ty = wg.y;\n  let ${zName} = wg.z;\n`,
    };
  }
  const total = gx * gy * gz;
  const x = Math.min(total, MAX_WG_PER_DIM);
  const y = Math.ceil(total / x);
  if (y > MAX_WG_PER_DIM) throw new Error(`matmulPlan: grid of ${total} workgroups is too large`);
  return {
    workgroups: [x, y, 1],
    decode: [
      `  let lin = wg.x + wg.y * ${u32(x)};`,
      `  if (lin >= ${u32(total)}) { return; }`,
      `  let tx = lin % ${u32(gx)};`,
      `  let ty = (lin / ${u32(gx)}) % ${u32(gy)};`,
      `  let ${zName} = lin / ${u32(gx * gy)};`,
      ``,
    ].join("\n"),
  };
}

/**
 * The epilogue expression of one output value `v`: `alpha ·`, `+ bias` (the WGSL `bias`
 * expression for its column), then ReLU against `zero` (`"0.0"` or a vec4 of zeros).
 */
export function epilogue(s: MatmulSpec, v: string, bias: string, zero = "0.0"): string {
  const alpha = s.alpha ?? 1;
  if (!Number.isFinite(alpha)) throw new Error(`matmulPlan: alpha must be finite, got ${alpha}`);
  let e = v;
  if (alpha !== 1) e = `${lit(alpha)} * ${e}`;
  if (s.bias) e = `${e} + ${bias}`;
  if (s.relu) e = `max(${e}, ${zero})`;
  return e;
}

/** The statement storing `e` at `C[idx]` (added to it with `accumulate`). */
export function storeC(s: MatmulSpec, idx: string, e: string): string {
  return s.accumulate ? `C[${idx}] = C[${idx}] + ${e};` : `C[${idx}] = ${e};`;
}
