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
 * This file holds `matmulPlan` and the `"gpu"` family; the `"cpu"` family is in
 * `matmul_cpu.ts`, and what both (and the texture kernel) share in `matmul_spec.ts`.
 * Which family an adapter gets is `adapterVariant` of `core/gpu.ts`.
 *
 * @module
 */
import {
  epilogue,
  header,
  type KernelPlan,
  type MatmulSpec,
  storeC,
  tileGrid,
  u32,
  validate,
} from "./matmul_spec.ts";
import { adaptTile, cpuPlan, type CpuTuning, DEFAULT_CPU_TUNING } from "./matmul_cpu.ts";

/** Re-exported: what to multiply and what a generator returns. */
export type { KernelPlan, MatmulSpec } from "./matmul_spec.ts";
export { type CpuTuning, DEFAULT_CPU_TUNING } from "./matmul_cpu.ts";

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
  // One element of a tile load: `lets` locate it in the tile, `at` in the matrix.
  const load = (lets: [string, string][], at: string, cond: string, read: string, to: string) =>
    L.push(
      `    {`,
      ...lets.map(([n, v]) => `      let ${n} = ${v};`),
      `      ${at}`,
      `      let gk = k0 + k;`,
      `      var v = 0.0;`,
      `      if (${cond}) { v = ${read}; }`,
      `      ${to} = v;`,
      `    }`,
    );
  // Tile mappings are chosen so that consecutive invocations read consecutive memory.
  for (let q = 0; q < aLoads; q++) {
    const e = `(li + ${u32(q * threads)})`;
    const [m, k] = s.transA
      ? [`${e} % ${u32(BM)}`, `${e} / ${u32(BM)}`]
      : [`${e} / ${u32(BK)}`, `${e} % ${u32(BK)}`];
    const read = `A[aBase + ${aIdx("gr", "gk")}]`;
    load([["m", m], ["k", k]], "let gr = rowT + m;", "gr < M && gk < K", read, "As[k][m]");
  }
  for (let q = 0; q < bLoads; q++) {
    const e = `(li + ${u32(q * threads)})`;
    const [k, n] = s.transB
      ? [`${e} % ${u32(BK)}`, `${e} / ${u32(BK)}`]
      : [`${e} / ${u32(BN)}`, `${e} % ${u32(BN)}`];
    const read = `B[bBase + ${bIdx("gk", "gc")}]`;
    load([["k", k], ["n", n]], "let gc = colT + n;", "gc < N && gk < K", read, "Bs[k][n]");
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
  L.push(`        ${storeC(s, "idx", epilogue(s, "acc[i][j]", "bias[c]"))}`);
  L.push(`      }`);
  L.push(`    }`);
  L.push(`  }`);
  L.push(`}`);
  return { code: L.join("\n") + "\n", workgroups: g.workgroups, bindings: s.bias ? 4 : 3 };
}
