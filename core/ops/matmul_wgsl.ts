/**
 * WGSL generation for batched matrix multiplication (pure: no WebGPU calls).
 *
 * `C = op(A)·op(B)` with optional scale, per-column bias, ReLU and accumulation,
 * for any shape (edges handled, nothing needs to be a multiple of a tile) and any
 * batch count. Every size is baked into the source as a constant, so the source
 * doubles as the pipeline-cache key.
 *
 * Two kernel families (on software adapters the op layer, `matmul.ts`, prefers the
 * texture kernel of `matmul_texture.ts`, 3× faster; the `"cpu"` family here remains for
 * operands beyond the texture limits and for callers that bind buffers directly):
 * - `"cpu"`: for Mesa's software adapters (lavapipe / llvmpipe), which run 8 (or 16)
 *   invocations as the lanes of one SIMD register. There every storage load is a loop
 *   over the lanes with a bounds check per lane (Mesa 22.x), costing as much as dozens of
 *   FMAs, while FMAs on spilled accumulators stay cheap. So the kernel uses no workgroup
 *   memory and no barriers, and each invocation keeps a large register tile (up to
 *   32 × 32 outputs: 64 loaded elements feed 1024 FMAs per k), shrunk for small outputs
 *   so both cores still get work. All four transpose combinations cost the same.
 * - `"gpu"`: the classic shared-memory tiled kernel for real GPUs (64×64 tile per
 *   16×16 workgroup, 4×4 outputs per invocation, K-step 16).
 *
 * @module
 */

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

/** Tile parameters of the `"cpu"` kernel (for benchmarks and tuning; defaults are tuned). */
export interface CpuTuning {
  /** Output rows per invocation (multiple of 4). */
  tm: number;
  /** Output columns per invocation (multiple of 4). */
  tn: number;
  /** Workgroup width (along the columns of C). */
  wgx: number;
  /** Workgroup height (along the rows of C). */
  wgy: number;
  /** K-loop unroll factor. */
  unroll: number;
  /** Read operands as vec4 where the layout allows (K-steps of 4) instead of scalars. */
  vec: boolean;
}

/**
 * Default `"cpu"` tuning, measured on lavapipe (LLVM 15, AVX2): the cost is dominated by
 * storage loads (each is a loop over the SIMD lanes, about equally costly per element for
 * f32 and vec4), so large register tiles win. `tm`/`tn` here are the maxima: `matmulPlan`
 * shrinks them for small outputs so that at least 16 invocations (two 8-lane groups, one
 * per core) have work.
 */
export const DEFAULT_CPU_TUNING: CpuTuning = {
  tm: 32,
  tn: 32,
  wgx: 8,
  wgy: 1,
  unroll: 1,
  vec: false,
};

/** The tile actually used for `spec` when the caller does not fix `tm` / `tn`. */
function adaptTile(s: MatmulSpec, t: CpuTuning): CpuTuning {
  const up4 = (v: number) => Math.max(4, Math.ceil(v / 4) * 4);
  let tm = Math.min(t.tm, up4(s.M));
  let tn = Math.min(t.tn, up4(s.N));
  const work = () => Math.ceil(s.M / tm) * Math.ceil(s.N / tn) * s.batch;
  while (work() < 16 && (tm > 4 || tn > 4)) {
    if (tm >= tn) tm = up4(tm / 2);
    else tn = up4(tn / 2);
  }
  return { ...t, tm, tn };
}

const MAX_WG_PER_DIM = 65535;

/** Picks the kernel family for an adapter: software adapters get `"cpu"`, the rest `"gpu"`. */
export function pickVariant(adapterInfo: GPUAdapterInfo): "cpu" | "gpu" {
  const info = adapterInfo as GPUAdapterInfo & { isFallbackAdapter?: boolean };
  if (info.isFallbackAdapter) return "cpu";
  const text = `${info.description ?? ""} ${info.device ?? ""} ${info.architecture ?? ""}`
    .toLowerCase();
  return /llvmpipe|lavapipe|swiftshader/.test(text) ? "cpu" : "gpu";
}

/** Generates the WGSL kernel and dispatch size for `spec` (pure; `tuning` only affects `"cpu"`). */
export function matmulPlan(spec: MatmulSpec, tuning?: Partial<CpuTuning>): KernelPlan {
  validate(spec);
  return spec.variant === "cpu"
    ? cpuPlan(
      spec,
      tuning?.tm || tuning?.tn
        ? { ...DEFAULT_CPU_TUNING, ...tuning }
        : adaptTile(spec, { ...DEFAULT_CPU_TUNING, ...tuning }),
    )
    : gpuPlan(spec);
}

function validate(s: MatmulSpec): void {
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

/** A float literal that WGSL accepts. */
export function f32(v: number): string {
  if (!Number.isFinite(v)) throw new Error(`matmulPlan: alpha must be finite, got ${v}`);
  const s = String(Math.fround(v));
  return /[.eE]/.test(s) ? s : `${s}.0`;
}

/** A WGSL u32 literal. */
export function u32(v: number): string {
  return `${v}u`;
}

function header(s: MatmulSpec, aVec = false, bVec = false, cVec = false): string {
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
 * in the shader; `decode` is WGSL that defines `tx`, `ty` and `bz` from `wg`.
 */
export function tileGrid(gx: number, gy: number, gz: number): {
  workgroups: [number, number, number];
  decode: string;
} {
  if (gx <= MAX_WG_PER_DIM && gy <= MAX_WG_PER_DIM && gz <= MAX_WG_PER_DIM) {
    return {
      workgroups: [gx, gy, gz],
      decode: `  let tx = wg.x;\n  let ty = wg.y;\n  let bz = wg.z;\n`,
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
      `  let bz = lin / ${u32(gx * gy)};`,
      ``,
    ].join("\n"),
  };
}

/** Epilogue for one output value `v` (an f32 expression) at column `col`, stored at `idx`. */
function epilogue(s: MatmulSpec, v: string, col: string, idx: string): string {
  let e = v;
  const alpha = s.alpha ?? 1;
  if (alpha !== 1) e = `${f32(alpha)} * ${e}`;
  if (s.bias) e = `${e} + bias[${col}]`;
  if (s.relu) e = `max(${e}, 0.0)`;
  return s.accumulate ? `C[${idx}] = C[${idx}] + ${e};` : `C[${idx}] = ${e};`;
}

// ---------------------------------------------------------------------------------
// "cpu": register-blocked, no workgroup memory.
//
// On llvmpipe every storage load instruction becomes a loop over the SIMD lanes (with a
// bounds check per lane), whatever the address pattern; what counts is the number of
// load instructions per FMA. So operands are read as vec4 wherever the layout allows
// (4 elements per load), each invocation keeps TM × TN accumulators (TM + TN vec4 loads
// feed 4·TM·TN FMAs per K-step of 4), and every transpose combination costs the same.

function cpuPlan(s: MatmulSpec, t: CpuTuning): KernelPlan {
  const { tm: TM, tn: TN, wgx: WX, wgy: WY, unroll: U } = t;
  if ((t.vec && (TN % 4 !== 0 || TM % 4 !== 0)) || WX < 1 || WY < 1 || U < 1) {
    throw new Error(`matmulPlan: bad cpu tuning ${JSON.stringify(t)}`);
  }
  const { M, N, K } = s;
  // vec4 views: the contiguous dimension of each operand must be a multiple of 4 and
  // every batch matrix must start on a vec4 boundary.
  const aVec = t.vec && (s.transA ? M % 4 === 0 : K % 4 === 0) && s.aBatchStride % 4 === 0;
  const bVec = t.vec && (s.transB ? K % 4 === 0 : N % 4 === 0) && s.bBatchStride % 4 === 0;
  const cVec = N % 4 === 0 && TN % 4 === 0;
  const colTiles = Math.ceil(N / TN);
  const rowTiles = Math.ceil(M / TM);
  const g = tileGrid(Math.ceil(colTiles / WX), Math.ceil(rowTiles / WY), s.batch);
  const edgeM = M % TM !== 0;
  const edgeN = N % TN !== 0;
  // A K-chunk of 4 needs both operands loadable 4 k at a time; otherwise step k by 1
  // (only when the contiguous dimension of neither operand is K).
  const KC = (!s.transA && aVec) || (s.transB && bVec) ? 4 : (K >= 4 && t.vec ? 4 : 1);

  const L: string[] = [];
  L.push(header(s, aVec, bVec, cVec));
  L.push(`@compute @workgroup_size(${WX}, ${WY}, 1)`);
  L.push(
    `fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {`,
  );
  L.push(g.decode);
  L.push(`  let ct = tx * ${u32(WX)} + lid.x;`);
  L.push(`  let rt = ty * ${u32(WY)} + lid.y;`);
  L.push(`  if (ct >= ${u32(colTiles)} || rt >= ${u32(rowTiles)}) { return; }`);
  L.push(`  let col0 = ct * ${u32(TN)};`);
  L.push(`  let row0 = rt * ${u32(TM)};`);
  L.push(`  let aBase = bz * A_BATCH;`);
  L.push(`  let bBase = bz * B_BATCH;`);

  // Clamped row / column indices (past the edge they repeat the last valid one; those
  // results are never stored). Group clamps keep vec4 loads inside the matrix.
  const rowIdx = (i: number) => edgeM ? `min(row0 + ${u32(i)}, M - 1u)` : `row0 + ${u32(i)}`;
  const colIdx = (j: number) => edgeN ? `min(col0 + ${u32(j)}, N - 1u)` : `col0 + ${u32(j)}`;
  const rowGrp = (g4: number) =>
    edgeM ? `min(row0 + ${u32(4 * g4)}, M - 4u)` : `row0 + ${u32(4 * g4)}`;
  const colGrp = (g4: number) =>
    edgeN ? `min(col0 + ${u32(4 * g4)}, N - 4u)` : `col0 + ${u32(4 * g4)}`;

  // Per-invocation base offsets (in elements, or in vec4 units for vec4 views).
  if (!s.transA) {
    for (let i = 0; i < TM; i++) {
      L.push(`  let ar${i} = ${aVec ? "(" : ""}aBase + (${rowIdx(i)}) * K${aVec ? ") / 4u" : ""};`);
    }
  } else if (aVec) {
    for (let g4 = 0; g4 < TM / 4; g4++) L.push(`  let ar${g4} = (aBase + ${rowGrp(g4)}) / 4u;`);
  } else {
    for (let i = 0; i < TM; i++) L.push(`  let ar${i} = aBase + ${rowIdx(i)};`);
  }
  if (s.transB) {
    for (let j = 0; j < TN; j++) {
      L.push(`  let bc${j} = ${bVec ? "(" : ""}bBase + (${colIdx(j)}) * K${bVec ? ") / 4u" : ""};`);
    }
  } else if (bVec) {
    for (let g4 = 0; g4 < TN / 4; g4++) L.push(`  let bc${g4} = (bBase + ${colGrp(g4)}) / 4u;`);
  } else {
    for (let j = 0; j < TN; j++) L.push(`  let bc${j} = bBase + ${colIdx(j)};`);
  }
  for (let i = 0; i < TM; i++) {
    for (let j = 0; j < TN; j++) L.push(`  var c${i}_${j} = 0.0;`);
  }

  const comp = ["x", "y", "z", "w"];
  /** Emits the loads of a K-chunk of `kc` starting at `k`; returns element accessors. */
  const loadA = (k: string, kc: number, ind: string): (i: number, q: number) => string => {
    if (!s.transA && aVec) { // kc == 4: one vec4 per row along K
      for (let i = 0; i < TM; i++) L.push(`${ind}let a${i} = A[ar${i} + ${k} / 4u];`);
      return (i, q) => `a${i}.${comp[q]}`;
    }
    if (s.transA && aVec) { // one vec4 per 4 rows, per k
      for (let q = 0; q < kc; q++) {
        for (let g4 = 0; g4 < TM / 4; g4++) {
          L.push(`${ind}let a${q}_${g4} = A[ar${g4} + (${k} + ${u32(q)}) * ${u32(M / 4)}];`);
        }
      }
      return (i, q) => `a${q}_${i >> 2}.${comp[i & 3]}`;
    }
    const ks = s.transA ? "M" : "1u";
    for (let q = 0; q < kc; q++) {
      for (let i = 0; i < TM; i++) {
        L.push(`${ind}let a${q}_${i} = A[ar${i} + (${k} + ${u32(q)}) * ${ks}];`);
      }
    }
    return (i, q) => `a${q}_${i}`;
  };
  const loadB = (k: string, kc: number, ind: string): (q: number, j: number) => string => {
    if (s.transB && bVec) { // kc == 4: one vec4 per column along K
      for (let j = 0; j < TN; j++) L.push(`${ind}let b${j} = B[bc${j} + ${k} / 4u];`);
      return (q, j) => `b${j}.${comp[q]}`;
    }
    if (!s.transB && bVec) { // one vec4 per 4 columns, per k
      for (let q = 0; q < kc; q++) {
        for (let g4 = 0; g4 < TN / 4; g4++) {
          L.push(`${ind}let b${q}_${g4} = B[bc${g4} + (${k} + ${u32(q)}) * ${u32(N / 4)}];`);
        }
      }
      return (q, j) => `b${q}_${j >> 2}.${comp[j & 3]}`;
    }
    const ks = s.transB ? "1u" : "N";
    for (let q = 0; q < kc; q++) {
      for (let j = 0; j < TN; j++) {
        L.push(`${ind}let b${q}_${j} = B[bc${j} + (${k} + ${u32(q)}) * ${ks}];`);
      }
    }
    return (q, j) => `b${q}_${j}`;
  };
  const step = (k: string, kc: number, ind: string): void => {
    L.push(`${ind.slice(2)}{`);
    const a = loadA(k, kc, ind);
    const b = loadB(k, kc, ind);
    for (let q = 0; q < kc; q++) {
      for (let i = 0; i < TM; i++) {
        for (let j = 0; j < TN; j++) {
          L.push(`${ind}c${i}_${j} = fma(${a(i, q)}, ${b(q, j)}, c${i}_${j});`);
        }
      }
    }
    L.push(`${ind.slice(2)}}`);
  };
  const chunk = KC * U;
  const main = Math.floor(K / chunk) * chunk;
  if (main > 0) {
    L.push(`  for (var k = 0u; k < ${u32(main)}; k = k + ${u32(chunk)}) {`);
    for (let u = 0; u < U; u++) step(u === 0 ? "k" : `(k + ${u32(u * KC)})`, KC, "      ");
    L.push(`  }`);
  }
  for (let k = main; k < K; k += KC) {
    const kc = Math.min(KC, K - k);
    step(u32(k), kc, "    ");
  }

  storeTile(s, TM, TN, cVec, L);
  L.push(`}`);
  return { code: L.join("\n") + "\n", workgroups: g.workgroups, bindings: s.bias ? 4 : 3 };
}

/**
 * Appends the store of a TM × TN register tile `c{i}_{j}` at (`row0`, `col0`) of batch
 * `bz` (scale, bias, ReLU, accumulate; rows and columns past the edge are skipped).
 * `cVec`: C is declared `array<vec4<f32>>` (needs N % 4 == 0).
 */
function storeTile(s: MatmulSpec, TM: number, TN: number, cVec: boolean, L: string[]): void {
  const { M, N } = s;
  const edgeM = M % TM !== 0;
  const edgeN = N % TN !== 0;
  const alpha = s.alpha ?? 1;
  const fin = (v: string, col: string): string => {
    let e = v;
    if (alpha !== 1) e = `${f32(alpha)} * ${e}`;
    if (s.bias) e = `${e} + bias[${col}]`;
    if (s.relu) e = `max(${e}, 0.0)`;
    return e;
  };
  L.push(`  let cBase = bz * ${u32(M * N)};`);
  if (cVec) {
    for (let g4 = 0; g4 < TN / 4; g4++) {
      if (s.bias) {
        const bs = [0, 1, 2, 3].map((q) => `bias[min(col0 + ${u32(4 * g4 + q)}, N - 1u)]`);
        L.push(`  let bias${g4} = vec4<f32>(${bs.join(", ")});`);
      }
    }
  }
  for (let i = 0; i < TM; i++) {
    L.push(`  ${edgeM ? `if (row0 + ${u32(i)} < M) ` : ""}{`);
    L.push(`    let cr = cBase + (row0 + ${u32(i)}) * N + col0;`);
    if (cVec) {
      for (let g4 = 0; g4 < TN / 4; g4++) {
        let e = `vec4<f32>(${[0, 1, 2, 3].map((q) => `c${i}_${4 * g4 + q}`).join(", ")})`;
        if (alpha !== 1) e = `${f32(alpha)} * ${e}`;
        if (s.bias) e = `${e} + bias${g4}`;
        if (s.relu) e = `max(${e}, vec4<f32>(0.0))`;
        const idx = `cr / 4u + ${u32(g4)}`;
        const st = s.accumulate ? `C[${idx}] = C[${idx}] + ${e};` : `C[${idx}] = ${e};`;
        L.push(edgeN ? `    if (col0 + ${u32(4 * g4)} < N) { ${st} }` : `    ${st}`);
      }
    } else {
      for (let j = 0; j < TN; j++) {
        const idx = `cr + ${u32(j)}`;
        const e = fin(`c${i}_${j}`, `col0 + ${u32(j)}`);
        const st = s.accumulate ? `C[${idx}] = C[${idx}] + ${e};` : `C[${idx}] = ${e};`;
        L.push(edgeN ? `    if (col0 + ${u32(j)} < N) { ${st} }` : `    ${st}`);
      }
    }
    L.push(`  }`);
  }
}

// ---------------------------------------------------------------------------------
// "gpu": shared-memory tiled (BM × BN tile, BK K-step, RM × RN outputs per invocation).

function gpuPlan(s: MatmulSpec): KernelPlan {
  const BM = 64, BN = 64, BK = 16, RM = 4, RN = 4;
  const WX = BN / RN, WY = BM / RM; // 16 × 16 invocations
  const threads = WX * WY;
  const g = tileGrid(Math.ceil(s.N / BN), Math.ceil(s.M / BM), s.batch);
  // Tile loads: A tile is BM × BK, B tile is BK × BN; each invocation loads
  // (BM*BK)/threads and (BK*BN)/threads elements.
  const aLoads = (BM * BK) / threads;
  const bLoads = (BK * BN) / threads;
  const aIdx = (r: string, k: string) => s.transA ? `(${k}) * M + (${r})` : `(${r}) * K + (${k})`;
  const bIdx = (k: string, c: string) => s.transB ? `(${c}) * K + (${k})` : `(${k}) * N + (${c})`;

  const L: string[] = [];
  L.push(header(s));
  L.push(`var<workgroup> As: array<array<f32, ${BM}>, ${BK}>; // [k][m]`);
  L.push(`var<workgroup> Bs: array<array<f32, ${BN}>, ${BK}>; // [k][n]`);
  L.push(``);
  L.push(`@compute @workgroup_size(${WX}, ${WY}, 1)`);
  L.push(
    `fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {`,
  );
  L.push(g.decode);
  L.push(`  let li = lid.y * ${u32(WX)} + lid.x;`);
  L.push(`  let rowT = ty * ${u32(BM)};`);
  L.push(`  let colT = tx * ${u32(BN)};`);
  L.push(`  let aBase = bz * A_BATCH;`);
  L.push(`  let bBase = bz * B_BATCH;`);
  L.push(`  var acc: array<array<f32, ${RN}>, ${RM}>;`);
  L.push(`  for (var i = 0u; i < ${u32(RM)}; i++) {`);
  L.push(`    for (var j = 0u; j < ${u32(RN)}; j++) { acc[i][j] = 0.0; }`);
  L.push(`  }`);
  L.push(`  for (var k0 = 0u; k0 < K; k0 = k0 + ${u32(BK)}) {`);
  // A tile: choose the mapping so that consecutive invocations read consecutive memory.
  for (let q = 0; q < aLoads; q++) {
    const e = `(li + ${u32(q * threads)})`;
    const [m, k] = s.transA ? [`${e} % ${u32(BM)}`, `${e} / ${u32(BM)}`] : [
      `${e} / ${u32(BK)}`,
      `${e} % ${u32(BK)}`,
    ];
    L.push(`    {`);
    L.push(`      let m = ${m};`);
    L.push(`      let k = ${k};`);
    L.push(`      let gr = rowT + m;`);
    L.push(`      let gk = k0 + k;`);
    L.push(`      var v = 0.0;`);
    L.push(`      if (gr < M && gk < K) { v = A[aBase + ${aIdx("gr", "gk")}]; }`);
    L.push(`      As[k][m] = v;`);
    L.push(`    }`);
  }
  for (let q = 0; q < bLoads; q++) {
    const e = `(li + ${u32(q * threads)})`;
    const [k, n] = s.transB ? [`${e} % ${u32(BK)}`, `${e} / ${u32(BK)}`] : [
      `${e} / ${u32(BN)}`,
      `${e} % ${u32(BN)}`,
    ];
    L.push(`    {`);
    L.push(`      let k = ${k};`);
    L.push(`      let n = ${n};`);
    L.push(`      let gc = colT + n;`);
    L.push(`      let gk = k0 + k;`);
    L.push(`      var v = 0.0;`);
    L.push(`      if (gc < N && gk < K) { v = B[bBase + ${bIdx("gk", "gc")}]; }`);
    L.push(`      Bs[k][n] = v;`);
    L.push(`    }`);
  }
  L.push(`    workgroupBarrier();`);
  L.push(`    for (var k = 0u; k < ${u32(BK)}; k++) {`);
  L.push(`      var a: array<f32, ${RM}>;`);
  L.push(`      var b: array<f32, ${RN}>;`);
  // Strided ownership (lid + i*WY) keeps shared-memory reads conflict-free.
  L.push(`      for (var i = 0u; i < ${u32(RM)}; i++) { a[i] = As[k][lid.y + i * ${u32(WY)}]; }`);
  L.push(`      for (var j = 0u; j < ${u32(RN)}; j++) { b[j] = Bs[k][lid.x + j * ${u32(WX)}]; }`);
  L.push(`      for (var i = 0u; i < ${u32(RM)}; i++) {`);
  L.push(
    `        for (var j = 0u; j < ${u32(RN)}; j++) { acc[i][j] = fma(a[i], b[j], acc[i][j]); }`,
  );
  L.push(`      }`);
  L.push(`    }`);
  L.push(`    workgroupBarrier();`);
  L.push(`  }`);
  L.push(`  let cBase = bz * ${u32(s.M * s.N)};`);
  L.push(`  for (var i = 0u; i < ${u32(RM)}; i++) {`);
  L.push(`    let r = rowT + lid.y + i * ${u32(WY)};`);
  L.push(`    for (var j = 0u; j < ${u32(RN)}; j++) {`);
  L.push(`      let c = colT + lid.x + j * ${u32(WX)};`);
  L.push(`      if (r < M && c < N) {`);
  L.push(`        let idx = cBase + r * N + c;`);
  L.push(`        ${epilogue(s, "acc[i][j]", "c", "idx")}`);
  L.push(`      }`);
  L.push(`    }`);
  L.push(`  }`);
  L.push(`}`);
  return { code: L.join("\n") + "\n", workgroups: g.workgroups, bindings: s.bias ? 4 : 3 };
}
