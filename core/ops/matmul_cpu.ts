/**
 * The `"cpu"` matmul kernel family (pure WGSL generation) for Mesa's software adapters
 * (lavapipe / llvmpipe), which run 8 (or 16) invocations as the lanes of one SIMD
 * register: no workgroup memory, no barriers, a large register tile per invocation (see
 * `matmul_wgsl.ts` for the why). `matmulPlan` there picks it.
 *
 * @module
 */
import {
  epilogue,
  header,
  type KernelPlan,
  type MatmulSpec,
  shrinkTile,
  storeC,
  tileGrid,
  u32,
} from "./matmul_spec.ts";
import { SOFTWARE_LOOP_LIMIT } from "./kernel.ts";

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
export function adaptTile(s: MatmulSpec, t: CpuTuning): CpuTuning {
  const [tm, tn] = shrinkTile(s, t.tm, t.tn);
  return { ...t, tm, tn };
}

// ---------------------------------------------------------------------------------
// "cpu": register-blocked, no workgroup memory.
//
// On llvmpipe every storage load instruction becomes a loop over the SIMD lanes (with a
// bounds check per lane), whatever the address pattern; what counts is the number of
// load instructions per FMA. So operands are read as vec4 wherever the layout allows
// (4 elements per load), each invocation keeps TM × TN accumulators (TM + TN vec4 loads
// feed 4·TM·TN FMAs per K-step of 4), and every transpose combination costs the same.

/** The `"cpu"` kernel for `s` with tile `t` (already adapted to the output size). */
export function cpuPlan(s: MatmulSpec, t: CpuTuning): KernelPlan {
  const { tm: TM, tn: TN, wgx: WX, wgy: WY } = t;
  if ((t.vec && (TN % 4 !== 0 || TM % 4 !== 0)) || WX < 1 || WY < 1 || t.unroll < 1) {
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
  // Unrolled further where the K loop would pass the software adapters' loop limit
  // (kernel.ts): the same steps in the same order, in fewer iterations.
  const U = Math.max(t.unroll, Math.ceil(K / KC / (SOFTWARE_LOOP_LIMIT - 1)));

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
        const v = `vec4<f32>(${[0, 1, 2, 3].map((q) => `c${i}_${4 * g4 + q}`).join(", ")})`;
        const e = epilogue(s, v, `bias${g4}`, "vec4<f32>(0.0)");
        const st = storeC(s, `cr / 4u + ${u32(g4)}`, e);
        L.push(edgeN ? `    if (col0 + ${u32(4 * g4)} < N) { ${st} }` : `    ${st}`);
      }
    } else {
      for (let j = 0; j < TN; j++) {
        const e = epilogue(s, `c${i}_${j}`, `bias[col0 + ${u32(j)}]`);
        const st = storeC(s, `cr + ${u32(j)}`, e);
        L.push(edgeN ? `    if (col0 + ${u32(j)} < N) { ${st} }` : `    ${st}`);
      }
    }
    L.push(`  }`);
  }
}
