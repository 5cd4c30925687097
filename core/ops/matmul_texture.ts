/**
 * The `"cpu"` matmul for software adapters, reading A and B through `rgba32float`
 * textures (pure WGSL and layout planning: no WebGPU calls).
 *
 * Why: on lavapipe (Mesa 22.x) every storage-buffer or workgroup-memory load is
 * scalarised per SIMD lane with a bounds check (about 100 FMAs' worth), while a
 * `textureLoad` from a sampled texture costs a few FMAs. So each operand is first copied
 * into a texture (O(n²): `copyBufferToTexture` when its rows are a multiple of 64 floats,
 * a small packing kernel otherwise), then a register-blocked kernel without workgroup
 * memory reads it with `textureLoad` (no sampler). C is still a storage buffer.
 *
 * Texture layout: an operand stored row-major as `lines` rows of `cols` floats (per batch
 * matrix) keeps its layout: texel (x, y) of a line holds floats 4x..4x+3 of it. So a
 * non-transposed A and a transposed B are "K-packed" (one texel = 4 consecutive k),
 * the others "MN-packed" (one texel = 4 consecutive rows / columns at one k); the kernel
 * reads either with the same number of loads per FMA. Matrices are stacked down the
 * texture and then over array layers, so any batch fits in `maxTextureDimension2D` rows
 * × `maxTextureArrayLayers` layers; a matrix taller than one layer spans several.
 *
 * @module
 */
import { epilogue, type MatmulSpec, shrinkTile, storeC, tileGrid, u32 } from "./matmul_spec.ts";
import { SOFTWARE_LOOP_LIMIT } from "./kernel.ts";
import {
  address,
  flatPlace,
  flatSteps,
  flatTexel,
  type OperandTexture,
  packSteps,
  place,
  type Placement,
  type TexLimits,
  transposedPackSteps,
} from "./texture_layout.ts";

export {
  type OperandTexture,
  type PackStep,
  type Placement,
  samePlacement,
  stagedCopies,
  stagePitch,
  texelAddress,
  type TexLimits,
  type TexSize,
} from "./texture_layout.ts";

/** A texture matmul: the packing of both operands, then one dispatch of `code`. */
export interface TexturePlan {
  /** Bindings: 0 A texture, 1 B texture, 2 C (storage, read_write), 3 bias (storage). */
  code: string;
  /** Workgroup counts of the product. */
  workgroups: [number, number, number];
  /** Number of bindings of the product (3, or 4 with bias). */
  bindings: number;
  /** Packing of A (binding 0). */
  a: OperandTexture;
  /** Packing of B (binding 1). */
  b: OperandTexture;
  /** The tile used (after shrinking for small outputs). */
  tuning: TexTuning;
}

/** Tile parameters of the texture kernel. */
export interface TexTuning {
  /** Output rows per invocation (multiple of 4). */
  tm: number;
  /** Output columns per invocation (multiple of 4). */
  tn: number;
  /** Workgroup width (along the columns of C). */
  wgx: number;
  /** Workgroup height (along the rows of C). */
  wgy: number;
  /** K-loop unroll factor (in steps of 4). */
  unroll: number;
  /** Lanes own interleaved groups of 4 columns (for a B that is not transposed). */
  interleave?: boolean;
}

/**
 * Default tile, measured on lavapipe (bench/matmul_raw.ts --tune, n = 1024): 8×8 per
 * invocation reached 15–21 GFLOP/s in every transpose form and compiles in about 0.4 s;
 * 12×8, 8×16, 16×16, 16×32 and unrolling were no faster (more spilling), 4×8 and 8×4
 * slower or equal, interleaved columns and lanes spanning rows slower. With the FMAs in
 * accumulator order (see `step`) 8×8 reaches 19–22, and 12×8, 8×16, 16×8 and unroll 2 stay
 * within that noise.
 */
export const DEFAULT_TEX_TUNING: TexTuning = { tm: 8, tn: 8, wgx: 8, wgy: 8, unroll: 1 };

/**
 * The tile where the host CPU has AVX-512 (lavapipe compiles for the host): 16×8. On a Xeon
 * with AVX-512 (bench/matmul_raw.ts --tune, n = 1024) it ran A·B, A·Bᵀ and Aᵀ·B at 52, 55
 * and 50 GFLOP/s against 8×8's 47, 47 and 34–39 (8×12, 12×8, 8×16 and 12×12 in between),
 * and VGG16's Winograd forward 5–6% faster in alternating rounds (16×12, 16×16 slower).
 * The tile changes no result: each output sums its products in the same order.
 */
export const WIDE_TEX_TUNING: TexTuning = { tm: 16, tn: 8, wgx: 8, wgy: 8, unroll: 1 };

/** Shrinks the tile for small outputs so at least 16 invocations have work. */
function adapt(s: MatmulSpec, t: TexTuning): TexTuning {
  const [tm, tn] = shrinkTile(s, t.tm, t.tn);
  // A workgroup no wider / taller than the tiles there are.
  const colTiles = Math.ceil(s.N / tn), rowTiles = Math.ceil(s.M / tm);
  let wgx = t.wgx, wgy = t.wgy;
  while (wgy > 1 && wgy / 2 >= rowTiles) [wgy, wgx] = [wgy / 2, wgx * 2];
  while (wgx > 8 && wgx / 2 >= colTiles) [wgx, wgy] = [wgx / 2, wgy * 2];
  return { ...t, tm, tn, wgx, wgy };
}

/**
 * Plans a texture matmul for `spec` (its `variant` is ignored), or returns null when an
 * operand does not fit the texture limits (the caller then uses the storage kernel).
 * `tuning` fixes the tile (no shrinking for small outputs when `tm` or `tn` is given); the
 * rest of it comes from `base`.
 */
export function matmulTexturePlan(
  spec: MatmulSpec,
  limits: TexLimits,
  tuning?: Partial<TexTuning>,
  kMajor = false,
  base: TexTuning = DEFAULT_TEX_TUNING,
): TexturePlan | null {
  const s = spec;
  const t = tuning?.tm || tuning?.tn ? { ...base, ...tuning } : adapt(s, { ...base, ...tuning });
  if (t.tm % 4 || t.tn % 4 || t.wgx < 1 || t.wgy < 1 || t.unroll < 1) {
    throw new Error(`matmulTexturePlan: bad tuning ${JSON.stringify(t)}`);
  }
  const aMats = s.aBatchStride === 0 ? 1 : s.batch;
  const bMats = s.bBatchStride === 0 ? 1 : s.batch;
  // With `kMajor` an operand stored N- or M-major is packed K-major (A as [M][K], B as
  // [N][K], transposed while packing), which the kernel reads fastest — when the product
  // amortises that pack's strided loads (≥ 512 columns of the other operand and K ≥ 256:
  // measured on lavapipe, smaller products ran slower that way). B is N-major up to
  // N = 1024 instead — a B stored [N][K] (A·Bᵀ) transposed into it while packing — since
  // its rows then stay in cache: alternating in one process, 1.15× at n = 512 and 1.05× at
  // 1024 without the pack of a [K][N] B, 0.76× at 2048; A·Bᵀ 1.3× at n = 512 and 1.57× at
  // 1024 with the transposing pack (AMD EPYC; the batch-16 and 64 products of the CNNs'
  // dense layers, M < 512, ran alike both ways and keep the stored layout). Else operands
  // keep their stored layout: A is [M][K] (or [K][M] transposed), B is [K][N] (or [N][K]).
  const big = (other: number) => kMajor && other >= 512 && s.K >= 256;
  const aK = !s.transA || big(s.N);
  const bK = s.transB && s.bNMajor ? false : big(s.M) ? s.N > 1024 : s.transB;
  const pa = place(aMats, aK ? s.M : s.K, aK ? s.K : s.M, limits);
  const pb = place(bMats, bK ? s.N : s.K, bK ? s.K : s.N, limits);
  if (!pa || !pb) return null;
  // An operand in its stored layout: copied where its lines allow, else (with
  // `limits.flatRows`) copied as it is into a flat texture, else through a staging kernel.
  const stored = (p: Placement, cols: number, stride: number): OperandTexture => {
    const steps = packSteps(p, cols, stride);
    const f = steps[0].kind === "stage" ? flatPlace(p.mats, p.lines, cols, stride, limits) : null;
    return f ? { size: f.size, place: f, steps: flatSteps(f) } : { size: p.size, place: p, steps };
  };
  const transposed = (p: Placement, cols: number, stride: number): OperandTexture => ({
    size: p.size,
    place: p,
    steps: transposedPackSteps(p, cols, stride),
  });
  const a = !s.transA
    ? stored(pa, s.K, s.aBatchStride)
    : aK
    ? transposed(pa, s.K, s.aBatchStride)
    : stored(pa, s.M, s.aBatchStride);
  const b = s.transB
    ? (bK ? stored(pb, s.K, s.bBatchStride) : transposed(pb, s.N, s.bBatchStride))
    : bK
    ? transposed(pb, s.K, s.bBatchStride)
    : stored(pb, s.N, s.bBatchStride);
  const { code, workgroups } = kernel(s, t, a.place, b.place, aK, bK);
  return { code, workgroups, bindings: s.bias ? 4 : 3, a, b, tuning: t };
}

function kernel(
  s: MatmulSpec,
  t: TexTuning,
  pa: Placement,
  pb: Placement,
  kPackedA: boolean,
  kPackedB: boolean,
): { code: string; workgroups: [number, number, number] } {
  const { tm: TM, tn: TN, wgx: WX, wgy: WY } = t;
  const { M, N, K } = s;
  // Interleaved columns: lane x of a workgroup owns texels x, x + WX, ... of the
  // workgroup's block, so one load instruction reads consecutive texels across lanes.
  const inter = !!t.interleave && !kPackedB;
  const colTiles = Math.ceil(N / TN), rowTiles = Math.ceil(M / TM);
  const g = tileGrid(Math.ceil(colTiles / WX), Math.ceil(rowTiles / WY), s.batch);
  const cVec = N % 4 === 0;
  const L: string[] = [];
  const tex = "texture_storage_2d_array<rgba32float, read>";
  L.push(`@group(0) @binding(0) var TA: ${tex};`);
  L.push(`@group(0) @binding(1) var TB: ${tex};`);
  L.push(
    `@group(0) @binding(2) var<storage, read_write> C: array<${cVec ? "vec4<f32>" : "f32"}>;`,
  );
  if (s.bias) L.push(`@group(0) @binding(3) var<storage, read> bias: array<f32>;`);
  L.push(`@compute @workgroup_size(${WX}, ${WY}, 1)`);
  L.push(
    `fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {`,
  );
  L.push(g.decode);
  L.push(`  let rt = ty * ${u32(WY)} + lid.y;`);
  L.push(`  let row0 = rt * ${u32(TM)};`);
  if (inter) {
    // First column of group q (4 columns) of this invocation.
    L.push(`  let cb = tx * ${u32(WX * TN)} + lid.x * 4u;`);
    L.push(`  if (cb >= ${u32(N)} || rt >= ${u32(rowTiles)}) { return; }`);
  } else {
    L.push(`  let ct = tx * ${u32(WX)} + lid.x;`);
    L.push(`  if (ct >= ${u32(colTiles)} || rt >= ${u32(rowTiles)}) { return; }`);
    L.push(`  let cb = ct * ${u32(TN)};`);
  }
  const colOf = (j: number) =>
    inter ? `cb + ${u32(4 * WX * (j >> 2) + (j & 3))}` : `cb + ${u32(j)}`;
  L.push(`  let ma = ${pa.mats === 1 ? "0u" : "bz"};`);
  L.push(`  let mb = ${pb.mats === 1 ? "0u" : "bz"};`);

  // Per-invocation addressing. K-packed: one line per output row / column (clamped at
  // the edge; those results are never stored). MN-packed: one texel per 4 rows / columns.
  const setup = (
    name: "a" | "b",
    p: Placement,
    kPacked: boolean,
    count: number,
    idx: (i: number) => string,
    last: number,
  ) => {
    if (p.flat) {
      // A flat copy of the buffer: each line's first texel (K-packed), or the matrix's.
      const m = p.flat.stride ? `m${name} * ${u32(p.flat.stride)}` : "0u";
      if (kPacked) {
        for (let i = 0; i < count; i++) {
          L.push(
            `  let ${name}f${i} = ${m} + min(${idx(i)}, ${u32(last - 1)}) * ${u32(p.texels)};`,
          );
        }
      } else {
        for (let g4 = 0; g4 < count / 4; g4++) {
          L.push(`  let ${name}x${g4} = ${m} + min((${idx(4 * g4)}) / 4u, ${u32(p.texels - 1)});`);
        }
      }
    } else if (kPacked) {
      for (let i = 0; i < count; i++) {
        const ad = address(p, `m${name}`, `min(${idx(i)}, ${u32(last - 1)})`);
        L.push(`  let ${name}y${i} = ${ad.y};`);
        L.push(`  let ${name}l${i} = ${ad.layer};`);
      }
    } else {
      for (let g4 = 0; g4 < count / 4; g4++) {
        L.push(`  let ${name}x${g4} = min((${idx(4 * g4)}) / 4u, ${u32(p.texels - 1)});`);
      }
      if (p.perLayer > 0) {
        const ad = address(p, `m${name}`, "0u");
        L.push(`  let ${name}y = ${ad.y};`);
        L.push(`  let ${name}l = ${ad.layer};`);
      }
    }
  };
  setup("a", pa, kPackedA, TM, (i) => `row0 + ${u32(i)}`, M);
  setup("b", pb, kPackedB, TN, colOf, N);
  for (let i = 0; i < TM; i++) {
    for (let j = 0; j < TN; j++) L.push(`  var c${i}_${j} = 0.0;`);
  }

  const comp = ["x", "y", "z", "w"];
  /** Loads of one k-chunk (texel column `kt`, `kc` valid k); returns element accessors. */
  const load = (
    name: "A" | "B",
    p: Placement,
    kPacked: boolean,
    count: number,
    kt: string,
    kc: number,
    ind: string,
  ): (i: number, q: number) => string => {
    const n = name.toLowerCase(), tx = `T${name}`;
    if (p.flat && kPacked) {
      for (let i = 0; i < count; i++) {
        L.push(`${ind}let ${n}${i} = ${flatTexel(p, tx, `${n}f${i} + ${kt}`)};`);
      }
      return (i, q) => `${n}${i}.${comp[q]}`;
    }
    if (p.flat) {
      for (let q = 0; q < kc; q++) {
        const line = `(${kt} * 4u + ${u32(q)}) * ${u32(p.texels)}`;
        for (let g4 = 0; g4 < count / 4; g4++) {
          L.push(`${ind}let ${n}${q}_${g4} = ${flatTexel(p, tx, `${n}x${g4} + ${line}`)};`);
        }
      }
      return (i, q) => `${n}${q}_${i >> 2}.${comp[i & 3]}`;
    }
    if (kPacked) {
      for (let i = 0; i < count; i++) {
        L.push(`${ind}let ${n}${i} = textureLoad(${tx}, vec2<u32>(${kt}, ${n}y${i}), ${n}l${i});`);
      }
      return (i, q) => `${n}${i}.${comp[q]}`;
    }
    for (let q = 0; q < kc; q++) {
      const k = `${kt} * 4u + ${u32(q)}`;
      const ad = p.perLayer > 0 ? { y: `${n}y + ${k}`, layer: `${n}l` } : address(p, `m${n}`, k);
      for (let g4 = 0; g4 < count / 4; g4++) {
        L.push(
          `${ind}let ${n}${q}_${g4} = textureLoad(${tx}, vec2<u32>(${n}x${g4}, ${ad.y}), ${ad.layer});`,
        );
      }
    }
    return (i, q) => `${n}${q}_${i >> 2}.${comp[i & 3]}`;
  };
  const step = (kt: string, kc: number, ind: string): void => {
    L.push(`${ind.slice(2)}{`);
    const a = load("A", pa, kPackedA, TM, kt, kc, ind);
    const b = load("B", pb, kPackedB, TN, kt, kc, ind);
    // Each accumulator's kc FMAs back to back (q innermost): the same sums in the same order
    // as q outermost, but on lavapipe it keeps the live values in registers instead of
    // spilling them (n = 1024: 14.6 → 20.2 GFLOP/s, 9 of 9 rounds; docs/lavapipe_kernels.md).
    for (let i = 0; i < TM; i++) {
      for (let j = 0; j < TN; j++) {
        for (let q = 0; q < kc; q++) {
          L.push(`${ind}c${i}_${j} = fma(${a(i, q)}, ${b(j, q)}, c${i}_${j});`);
        }
      }
    }
    L.push(`${ind.slice(2)}}`);
  };
  // Unrolled further where the K loop would pass the software adapters' loop limit
  // (kernel.ts): the same steps in the same order, in fewer iterations.
  const full = Math.floor(K / 4),
    U = Math.max(t.unroll, Math.ceil(full / (SOFTWARE_LOOP_LIMIT - 1)));
  const main = full <= FULL_UNROLL_STEPS ? 0 : Math.floor(full / U) * U;
  if (main > 0) {
    L.push(`  for (var kt = 0u; kt < ${u32(main)}; kt = kt + ${u32(U)}) {`);
    for (let u = 0; u < U; u++) step(u === 0 ? "kt" : `(kt + ${u32(u)})`, 4, "      ");
    L.push(`  }`);
  }
  for (let kt = main; kt < full; kt++) step(u32(kt), 4, "    ");
  if (K % 4) step(u32(full), K % 4, "    ");
  store(s, TM, TN, cVec, colOf, L);
  L.push(`}`);
  return { code: L.join("\n") + "\n", workgroups: g.workgroups };
}

/**
 * K-steps (of 4) up to which the kernel has no K loop, only its steps: a dense layer's weight
 * gradient at batch 16 (K = 16, 16 M outputs) ran 28.0 → 25.0 ms at 4000 × 4000 (6 of 7
 * alternating rounds, AVX-512 EPYC), K = 32 35.1 → 34.3; K = 64 alike (so not unrolled).
 * The same steps in the same order: the same bits.
 */
const FULL_UNROLL_STEPS = 8;

/** Stores the tile: groups of 4 columns starting at `colOf(4g)` (vec4 when `cVec`). */
function store(
  s: MatmulSpec,
  TM: number,
  TN: number,
  cVec: boolean,
  colOf: (j: number) => string,
  L: string[],
): void {
  const { M, N } = s;
  L.push(`  let cBase = bz * ${u32(M * N)};`);
  if (s.bias) L.push(`  let N1 = ${u32(N - 1)};`);
  for (let g4 = 0; g4 < TN / 4; g4++) {
    L.push(`  let cc${g4} = ${colOf(4 * g4)};`);
    if (s.bias && cVec) {
      const bs = [0, 1, 2, 3].map((q) => `bias[min(cc${g4} + ${u32(q)}, N1)]`);
      L.push(`  let bias${g4} = vec4<f32>(${bs.join(", ")});`);
    }
  }
  for (let i = 0; i < TM; i++) {
    L.push(`  if (row0 + ${u32(i)} < ${u32(M)}) {`);
    L.push(`    let cr = cBase + (row0 + ${u32(i)}) * ${u32(N)};`);
    for (let g4 = 0; g4 < TN / 4; g4++) {
      if (cVec) {
        const v = `vec4<f32>(${[0, 1, 2, 3].map((q) => `c${i}_${4 * g4 + q}`).join(", ")})`;
        const e = epilogue(s, v, `bias${g4}`, "vec4<f32>(0.0)");
        L.push(`    if (cc${g4} < ${u32(N)}) { ${storeC(s, `(cr + cc${g4}) / 4u`, e)} }`);
      } else {
        for (let q = 0; q < 4; q++) {
          const col = `cc${g4} + ${u32(q)}`;
          const e = epilogue(s, `c${i}_${4 * g4 + q}`, `bias[${col}]`);
          L.push(`    if (${col} < ${u32(N)}) { ${storeC(s, `cr + ${col}`, e)} }`);
        }
      }
    }
    L.push(`  }`);
  }
}
