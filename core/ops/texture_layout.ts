/**
 * How a matrix operand lives in an `rgba32float` 2-D array texture for the software
 * adapters' matmul (`matmul_texture.ts`), and the commands that fill it (pure: no WebGPU
 * calls). An operand stored row-major as `lines` rows of `cols` floats (per batch matrix)
 * keeps its layout: texel (x, y) of a line holds floats 4x..4x+3 of it. Matrices are
 * stacked down the texture and then over array layers, so any batch fits in
 * `maxTextureDimension2D` rows × `maxTextureArrayLayers` layers; a matrix taller than one
 * layer spans several. Lines of a multiple of 64 floats are copied straight from the
 * operand's buffer (`copyBufferToTexture`); others go through a staging buffer with padded
 * lines, which a small kernel fills and copies then move (much cheaper than `textureStore`
 * on Mesa's software adapters).
 *
 * @module
 */
import { FLAT_WIDTH } from "../gpu_reads.ts";
import type { TextureCopy } from "../gpu.ts";
import { u32 } from "./matmul_spec.ts";

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
  /**
   * Rows a layer of a flat texture (`core/ops/texture_read.ts`). When set, an operand that
   * would need a staging kernel is copied as it is into a flat texture instead (`flatPlace`).
   */
  flatRows?: number;
}

/** One command that fills (part of) an operand's texture. */
export type PackStep =
  | TextureCopy & {
    /**
     * `copyBufferToTexture` of `rows` lines of `width` texels (into `layers` layers, the
     * next layer's lines following on in the source: one command where a copy per layer
     * would cost one each); `offset` relative to the operand's binding or the staging
     * buffer.
     */
    kind: "copy";
    /** The source is the staging buffer the preceding "stage" kernel wrote. */
    staged?: boolean;
  }
  | {
    /**
     * A compute kernel that copies the operand into a staging buffer with lines padded to a
     * multiple of 64 floats (binding 0 the operand, storage f32; binding 1 the staging
     * buffer, `bytes` long), from which the following "copy" steps fill the texture.
     * (`textureStore` costs about ten times a vec4 store plus a copy on Mesa's software
     * adapters.)
     */
    kind: "stage";
    /** WGSL source (entry point `main`). */
    code: string;
    /** Workgroup counts. */
    workgroups: [number, number, number];
    /** Size of the staging buffer. */
    bytes: number;
  }
  | {
    /**
     * The operand's buffer copied as it is into a flat texture (`flatTexture` of
     * `core/ops/texture_read.ts`: `texels` vec4s from the binding's offset, `FLAT_WIDTH` a
     * row), which is then the whole texture (placement `flat`).
     */
    kind: "flat";
    texels: number;
  };

/** How one operand becomes a texture. */
export interface OperandTexture {
  /** Smallest texture that holds it (a pooled texture may be larger). */
  size: TexSize;
  /** Where each line lives (for kernels that write the texture themselves: `texelAddress`). */
  place: Placement;
  /** Commands that fill it, in order. */
  steps: PackStep[];
}

/**
 * Where the lines of an operand live: matrices stacked down rows, then over layers. Texel x
 * of a line holds its floats 4x … 4x + 3 (zeros past the end).
 */
export interface Placement {
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
  /**
   * Set when the texture is a flat copy of the operand's buffer (`flatPlace`): texel t of
   * line l of matrix m is flat texel m·stride + l·texels + t, at (that % FLAT_WIDTH,
   * row that / FLAT_WIDTH) of `rows` rows a layer.
   */
  flat?: { stride: number; rows: number; layers: number };
}

export function place(mats: number, lines: number, cols: number, lim: TexLimits): Placement | null {
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

/**
 * The flat placement of `mats` matrices of `lines` × `cols` floats stored row-major, `stride`
 * floats apart: the buffer copied as it is (one `copyBufferToTexture` a layer, where the
 * line-by-line layout needs a staging kernel and its copies when lines are not a multiple
 * of 64 floats). Null unless `lim.flatRows` is set, lines and stride are whole vec4s, and it
 * fits the layers.
 */
export function flatPlace(
  mats: number,
  lines: number,
  cols: number,
  stride: number,
  lim: TexLimits,
): Placement | null {
  if (!lim.flatRows || cols % 4 !== 0 || (mats > 1 && stride % 4 !== 0)) return null;
  const texels = cols / 4, step = mats > 1 ? stride / 4 : 0;
  const all = Math.ceil(((mats - 1) * step + lines * texels) / FLAT_WIDTH);
  const rows = Math.min(all, lim.flatRows), layers = Math.ceil(all / rows);
  if (layers > lim.maxLayers) return null;
  return {
    mats,
    lines,
    texels,
    perLayer: 0,
    layersPer: 0,
    height: rows,
    size: sz(FLAT_WIDTH, rows, layers),
    flat: { stride: step, rows, layers },
  };
}

/** The one step that fills a flat placement. */
export function flatSteps(p: Placement): PackStep[] {
  return [{ kind: "flat", texels: (p.mats - 1) * p.flat!.stride + p.lines * p.texels }];
}

/**
 * WGSL reading texel `idx` (u32 expr) of a flat placement from texture `tex`: the flat
 * texture's row and layer of it.
 */
export function flatTexel(p: Placement, tex: string, idx: string): string {
  const f = p.flat!, x = `(${idx}) % ${u32(FLAT_WIDTH)}`, row = `(${idx}) / ${u32(FLAT_WIDTH)}`;
  if (f.layers === 1) return `textureLoad(${tex}, vec2<u32>(${x}, ${row}), 0)`;
  return `textureLoad(${tex}, vec2<u32>(${x}, ${row} % ${u32(f.rows)}), ${row} / ${u32(f.rows)})`;
}

function sz(width: number, height: number, layers: number): TexSize {
  return { width, height, layers };
}

/** Whether two placements address the same texels (one texture can serve both). */
export function samePlacement(a: Placement, b: Placement): boolean {
  return a.mats === b.mats && a.lines === b.lines && a.texels === b.texels &&
    a.perLayer === b.perLayer && a.layersPer === b.layersPer && a.height === b.height;
}

/** WGSL that yields (layer, row) of line `line` (u32 expr) of matrix `mat` (u32 expr). */
export function texelAddress(p: Placement, mat: string, line: string): {
  layer: string;
  y: string;
} {
  return address(p, mat, line);
}

export function address(p: Placement, mat: string, line: string): { layer: string; y: string } {
  if (p.perLayer > 0) {
    if (p.size.layers === 1) return { layer: "0u", y: `(${mat}) * ${u32(p.lines)} + ${line}` };
    return {
      layer: `(${mat}) / ${u32(p.perLayer)}`,
      y: `((${mat}) % ${u32(p.perLayer)}) * ${u32(p.lines)} + ${line}`,
    };
  }
  // `mat` and `line` may be sums (`kt * 4u + 1u`): parenthesised, or `*`, `/` and `%` would
  // bind to one term only (products with K past 16,384 read wrong layers, and zeros, so).
  return {
    layer: `(${mat}) * ${u32(p.layersPer)} + (${line}) / ${u32(p.height)}`,
    y: `(${line}) % ${u32(p.height)}`,
  };
}

/**
 * How to fill the texture of an operand stored as `mats` matrices of `lines` × `cols`
 * floats, `stride` floats apart: direct copies where the layout allows, else a kernel.
 */
export function packSteps(p: Placement, cols: number, stride: number): PackStep[] {
  const bytesPerRow = cols * 4;
  const contiguous = p.mats === 1 || stride === p.lines * cols;
  if (cols % 64 === 0 && stride % 4 === 0) {
    const steps: PackStep[] = [];
    if (p.perLayer > 0 && contiguous) {
      for (const [m0, mats, layers] of layerRuns(p)) {
        steps.push({
          kind: "copy",
          offset: m0 * stride * 4,
          bytesPerRow,
          width: p.texels,
          rows: mats * p.lines,
          y: 0,
          layer: m0 / p.perLayer,
          layers,
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
            width: p.texels,
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
              width: p.texels,
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
  return [stageKernel(p, cols, stride), ...stagedCopies(p)];
}

/**
 * How to fill the texture of placement `p` (`mats` matrices of `p.lines` lines of `cols`
 * floats) from an operand stored transposed: per matrix `cols` rows of `p.lines` floats,
 * `stride` floats apart. One staging kernel transposes while it packs (invocations run
 * along the lines so neighbours read neighbouring floats), then copies fill the texture.
 */
export function transposedPackSteps(p: Placement, cols: number, stride: number): PackStep[] {
  if (p.lines % 4 === 0 && stride % 4 === 0) {
    return [blockTransposeKernel(p, cols, stride), ...stagedCopies(p)];
  }
  const total = p.mats * p.lines * p.texels;
  const m = stageMain(total);
  const pitch = stagePitch(p), L = p.lines, last = (p.mats - 1) * stride + cols * L - 1;
  const load = (q: number) =>
    `select(0.0, S[min(base + (4u * t + ${u32(q)}) * ${u32(L)}, ${u32(last)})], 4u * t + ${
      u32(q)
    } < ${u32(cols)})`;
  const code = `@group(0) @binding(0) var<storage, read> S: array<f32>;
@group(0) @binding(1) var<storage, read_write> D: array<vec4<f32>>;
${m.main}
  let line = i % ${u32(L)};
  let rest = i / ${u32(L)};
  let t = rest % ${u32(p.texels)};
  let mat = rest / ${u32(p.texels)};
  let base = mat * ${u32(stride)} + line;
  D[(mat * ${u32(L)} + line) * ${u32(pitch)} + t] = vec4<f32>(${[0, 1, 2, 3].map(load).join(", ")});
}
`;
  const stage: PackStep = {
    kind: "stage",
    code,
    workgroups: m.workgroups,
    bytes: p.mats * p.lines * pitch * 16,
  };
  return [stage, ...stagedCopies(p)];
}

/**
 * `transposedPackSteps`' kernel when the lines and the matrices' stride are multiples of 4:
 * an invocation reads a 4 × 4 block as 4 vec4s (source rows 4t … 4t + 3, columns 4l … 4l +
 * 3) and writes it transposed as texel t of lines 4l … 4l + 3 — on the software adapters
 * each scalar read of the one-texel-a-lane kernel is a gather, and this one has none.
 */
function blockTransposeKernel(p: Placement, cols: number, stride: number): PackStep {
  const L4 = p.lines / 4, total = p.mats * L4 * p.texels;
  const m = stageMain(total);
  const pitch = stagePitch(p);
  const row = (q: number) =>
    `select(vec4<f32>(0.0), S[base + min(4u * t + ${u32(q)}, ${u32(cols - 1)}) * ${
      u32(L4)
    }], 4u * t + ${u32(q)} < ${u32(cols)})`;
  const out = (j: number) =>
    `  D[(mat * ${u32(p.lines)} + 4u * l + ${u32(j)}) * ${u32(pitch)} + t] = ` +
    `vec4<f32>(r0[${j}], r1[${j}], r2[${j}], r3[${j}]);`;
  const code = `@group(0) @binding(0) var<storage, read> S: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> D: array<vec4<f32>>;
${m.main}
  let l = i % ${u32(L4)};
  let rest = i / ${u32(L4)};
  let t = rest % ${u32(p.texels)};
  let mat = rest / ${u32(p.texels)};
  let base = mat * ${u32(stride / 4)} + l;
${[0, 1, 2, 3].map((q) => `  let r${q} = ${row(q)};`).join("\n")}
${[0, 1, 2, 3].map(out).join("\n")}
}
`;
  return { kind: "stage", code, workgroups: m.workgroups, bytes: p.mats * p.lines * pitch * 16 };
}

/** The entry point of a staging kernel of `total` invocations (64 a workgroup, a 2-D grid). */
function stageMain(total: number): { main: string; workgroups: [number, number, number] } {
  const WG = 64, groups = Math.ceil(total / WG);
  const gx = Math.min(groups, 65535), gy = Math.ceil(groups / gx);
  return {
    main: `@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x + gid.y * ${u32(gx * WG)};
  if (i >= ${u32(total)}) { return; }`,
    workgroups: [gx, gy, 1],
  };
}

/** Texels from one line to the next in a staging buffer of placement `p` (a multiple of 16). */
export function stagePitch(p: Placement): number {
  return Math.ceil(p.texels / 16) * 16;
}

/**
 * The layers of a placement with whole matrices per layer, as copy runs
 * `[first matrix, matrices a layer, layers]`: every full layer in one run, then the
 * partly filled last layer.
 */
function layerRuns(p: Placement): [number, number, number][] {
  const full = Math.floor(p.mats / p.perLayer), rest = p.mats - full * p.perLayer;
  const runs: [number, number, number][] = [];
  if (full > 0) runs.push([0, p.perLayer, full]);
  if (rest > 0) runs.push([full * p.perLayer, rest, 1]);
  return runs;
}

/**
 * The copies that fill a texture of placement `p` from a staging buffer holding its lines
 * in order (matrix by matrix), `stagePitch(p)` texels apart.
 */
export function stagedCopies(p: Placement): PackStep[] {
  const pitch = stagePitch(p), bytesPerRow = pitch * 16, steps: PackStep[] = [];
  const copy = (line: number, rows: number, y: number, layer: number, layers = 1) =>
    steps.push({
      kind: "copy",
      offset: line * bytesPerRow,
      bytesPerRow,
      width: p.texels,
      rows,
      y,
      layer,
      layers,
      staged: true,
    });
  if (p.perLayer > 0) {
    for (const [m0, mats, layers] of layerRuns(p)) {
      copy(m0 * p.lines, mats * p.lines, 0, m0 / p.perLayer, layers);
    }
  } else {
    for (let m = 0; m < p.mats; m++) {
      for (let l = 0; l < p.layersPer; l++) {
        const rows = Math.min(p.height, p.lines - l * p.height);
        copy(m * p.lines + l * p.height, rows, 0, m * p.layersPer + l);
      }
    }
  }
  return steps;
}

/** The staging kernel: one invocation per texel, zeros past the end of a line. */
function stageKernel(p: Placement, cols: number, stride: number): PackStep {
  const total = p.mats * p.lines * p.texels;
  const m = stageMain(total);
  const vec = cols % 4 === 0 && stride % 4 === 0;
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
  const pitch = stagePitch(p);
  const code = `@group(0) @binding(0) var<storage, read> S: ${src};
@group(0) @binding(1) var<storage, read_write> D: array<vec4<f32>>;
${m.main}
  let t = i % ${u32(p.texels)};
  let ml = i / ${u32(p.texels)};
  let line = ml % ${u32(p.lines)};
  let mat = ml / ${u32(p.lines)};
  D[ml * ${u32(pitch)} + t] = ${load};
}
`;
  return { kind: "stage", code, workgroups: m.workgroups, bytes: p.mats * p.lines * pitch * 16 };
}
