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

/** Size of a 2-D array texture (width and height in texels). */
export interface TexSize {
  /** Texels per row. */
  width: number;
  /** Rows per layer. */
  height: number;
  /** Array layers. */
  layers: number;
}

/** Device limits the texture layout must respect. */
export interface TexLimits {
  /** `maxTextureDimension2D`. */
  maxDim: number;
  /** `maxTextureArrayLayers`. */
  maxLayers: number;
}

/** One command that fills (part of) an operand's texture from its storage buffer. */
export type PackStep =
  | {
    /** `copyBufferToTexture` of `rows` full lines. */
    kind: "copy";
    /** Byte offset of the first line, relative to the operand's binding. */
    offset: number;
    /** Bytes per line (a multiple of 256). */
    bytesPerRow: number;
    /** Lines copied. */
    rows: number;
    /** Destination row and layer. */
    y: number;
    /** Destination layer. */
    layer: number;
  }
  | {
    /** A compute kernel: binding 0 the operand (storage f32), 1 the texture (storage). */
    kind: "pack";
    /** WGSL source (entry point `main`). */
    code: string;
    /** Workgroup counts. */
    workgroups: [number, number, number];
  };

/** How one operand becomes a texture. */
export interface OperandTexture {
  /** Smallest texture that holds it (a pooled texture may be larger). */
  size: TexSize;
  /** Commands that fill it, in order. */
  steps: PackStep[];
}

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
 * slower or equal, interleaved columns and lanes spanning rows slower.
 */
export const DEFAULT_TEX_TUNING: TexTuning = { tm: 8, tn: 8, wgx: 8, wgy: 8, unroll: 1 };

/** Where the lines of an operand live: matrices stacked down rows, then over layers. */
interface Placement {
  /** Distinct matrices (1 when broadcast). */
  mats: number;
  /** Lines (rows) per matrix. */
  lines: number;
  /** Texels per line. */
  texels: number;
  /** Whole matrices per layer (0 when a matrix is taller than a layer). */
  perLayer: number;
  /** Layers per matrix (when `perLayer` is 0). */
  layersPer: number;
  /** Rows per layer used. */
  height: number;
  size: TexSize;
}

function place(mats: number, lines: number, cols: number, lim: TexLimits): Placement | null {
  const texels = Math.ceil(cols / 4);
  if (texels > lim.maxDim) return null;
  if (lines <= lim.maxDim) {
    const perLayer = Math.min(mats, Math.floor(lim.maxDim / lines));
    const layers = Math.ceil(mats / perLayer);
    if (layers > lim.maxLayers) return null;
    const height = perLayer * lines;
    return {
      mats,
      lines,
      texels,
      perLayer,
      layersPer: 0,
      height,
      size: sz(texels, height, layers),
    };
  }
  const layersPer = Math.ceil(lines / lim.maxDim);
  if (layersPer * mats > lim.maxLayers) return null;
  const height = lim.maxDim;
  return {
    mats,
    lines,
    texels,
    perLayer: 0,
    layersPer,
    height,
    size: sz(texels, height, layersPer * mats),
  };
}

function sz(width: number, height: number, layers: number): TexSize {
  return { width, height, layers };
}

/** WGSL that yields (layer, row) of line `line` (u32 expr) of matrix `mat` (u32 expr). */
function address(p: Placement, mat: string, line: string): { layer: string; y: string } {
  if (p.perLayer > 0) {
    if (p.size.layers === 1) return { layer: "0u", y: `${mat} * ${u32(p.lines)} + ${line}` };
    return {
      layer: `${mat} / ${u32(p.perLayer)}`,
      y: `(${mat} % ${u32(p.perLayer)}) * ${u32(p.lines)} + ${line}`,
    };
  }
  return {
    layer: `${mat} * ${u32(p.layersPer)} + ${line} / ${u32(p.height)}`,
    y: `${line} % ${u32(p.height)}`,
  };
}

/**
 * How to fill the texture of an operand stored as `mats` matrices of `lines` × `cols`
 * floats, `stride` floats apart: direct copies where the layout allows, else a kernel.
 */
function packSteps(p: Placement, cols: number, stride: number): PackStep[] {
  const bytesPerRow = cols * 4;
  const contiguous = p.mats === 1 || stride === p.lines * cols;
  if (cols % 64 === 0 && stride % 4 === 0) {
    const steps: PackStep[] = [];
    if (p.perLayer > 0 && contiguous) {
      for (let m0 = 0; m0 < p.mats; m0 += p.perLayer) {
        const rows = Math.min(p.perLayer, p.mats - m0) * p.lines;
        steps.push({
          kind: "copy",
          offset: m0 * stride * 4,
          bytesPerRow,
          rows,
          y: 0,
          layer: m0 / p.perLayer,
        });
      }
      return steps;
    }
    const copies = p.perLayer > 0 ? p.mats : p.mats * p.layersPer;
    if (copies <= 16) {
      for (let m = 0; m < p.mats; m++) {
        if (p.perLayer > 0) {
          steps.push({
            kind: "copy",
            offset: m * stride * 4,
            bytesPerRow,
            rows: p.lines,
            y: (m % p.perLayer) * p.lines,
            layer: Math.floor(m / p.perLayer),
          });
        } else {
          for (let l = 0; l < p.layersPer; l++) {
            steps.push({
              kind: "copy",
              offset: (m * stride + l * p.height * cols) * 4,
              bytesPerRow,
              rows: Math.min(p.height, p.lines - l * p.height),
              y: 0,
              layer: m * p.layersPer + l,
            });
          }
        }
      }
      return steps;
    }
  }
  return [packKernel(p, cols, stride)];
}

/** The packing kernel: one invocation per texel, zeros past the end of a line. */
function packKernel(p: Placement, cols: number, stride: number): PackStep {
  const total = p.mats * p.lines * p.texels;
  const WG = 64;
  const groups = Math.ceil(total / WG);
  const gx = Math.min(groups, 65535), gy = Math.ceil(groups / gx);
  const vec = cols % 4 === 0 && stride % 4 === 0;
  const { layer, y } = address(p, "mat", "line");
  const src = vec ? "array<vec4<f32>>" : "array<f32>";
  const base = `mat * ${u32(vec ? stride / 4 : stride)} + line * ${u32(vec ? cols / 4 : cols)}`;
  const load = vec
    ? `S[${base} + t]`
    : `vec4<f32>(${
      [0, 1, 2, 3].map((q) =>
        (p.texels - 1) * 4 + q < cols
          ? `S[${base} + 4u * t + ${u32(q)}]`
          : `select(0.0, S[min(${base} + 4u * t + ${u32(q)}, ${
            u32((p.mats - 1) * stride + p.lines * cols - 1)
          })], 4u * t + ${u32(q)} < ${u32(cols)})`
      ).join(", ")
    })`;
  const code = `@group(0) @binding(0) var<storage, read> S: ${src};
@group(0) @binding(1) var T: texture_storage_2d_array<rgba32float, write>;
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x + gid.y * ${u32(gx * WG)};
  if (i >= ${u32(total)}) { return; }
  let t = i % ${u32(p.texels)};
  let line = (i / ${u32(p.texels)}) % ${u32(p.lines)};
  let mat = i / ${u32(p.texels * p.lines)};
  textureStore(T, vec2<u32>(t, ${y}), ${layer}, ${load});
}
`;
  return { kind: "pack", code, workgroups: [gx, gy, 1] };
}

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
 * `tuning` fixes the tile (no shrinking for small outputs when `tm` or `tn` is given).
 */
export function matmulTexturePlan(
  spec: MatmulSpec,
  limits: TexLimits,
  tuning?: Partial<TexTuning>,
): TexturePlan | null {
  const s = spec;
  const t = tuning?.tm || tuning?.tn
    ? { ...DEFAULT_TEX_TUNING, ...tuning }
    : adapt(s, { ...DEFAULT_TEX_TUNING, ...tuning });
  if (t.tm % 4 || t.tn % 4 || t.wgx < 1 || t.wgy < 1 || t.unroll < 1) {
    throw new Error(`matmulTexturePlan: bad tuning ${JSON.stringify(t)}`);
  }
  const aMats = s.aBatchStride === 0 ? 1 : s.batch;
  const bMats = s.bBatchStride === 0 ? 1 : s.batch;
  // Stored shapes: A is [M][K] (or [K][M] transposed), B is [K][N] (or [N][K]).
  const pa = place(aMats, s.transA ? s.K : s.M, s.transA ? s.M : s.K, limits);
  const pb = place(bMats, s.transB ? s.N : s.K, s.transB ? s.K : s.N, limits);
  if (!pa || !pb) return null;
  const a = { size: pa.size, steps: packSteps(pa, s.transA ? s.M : s.K, s.aBatchStride) };
  const b = { size: pb.size, steps: packSteps(pb, s.transB ? s.K : s.N, s.bBatchStride) };
  const { code, workgroups } = kernel(s, t, pa, pb);
  return { code, workgroups, bindings: s.bias ? 4 : 3, a, b, tuning: t };
}

function kernel(
  s: MatmulSpec,
  t: TexTuning,
  pa: Placement,
  pb: Placement,
): { code: string; workgroups: [number, number, number] } {
  const { tm: TM, tn: TN, wgx: WX, wgy: WY, unroll: U } = t;
  const { M, N, K } = s;
  const kPackedA = !s.transA, kPackedB = s.transB;
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
    if (kPacked) {
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
    for (let q = 0; q < kc; q++) {
      for (let i = 0; i < TM; i++) {
        for (let j = 0; j < TN; j++) {
          L.push(`${ind}c${i}_${j} = fma(${a(i, q)}, ${b(j, q)}, c${i}_${j});`);
        }
      }
    }
    L.push(`${ind.slice(2)}}`);
  };
  const full = Math.floor(K / 4), main = Math.floor(full / U) * U;
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
