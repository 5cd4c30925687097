/**
 * The product kernels of the direct convolution (`conv_direct.ts` packs their textures
 * and holds the op): the forward / input-gradient product, and the weight gradient with the
 * bias gradient in one extra column. WGSL generation and dispatch; layouts as documented
 * there.
 *
 * @module
 */
import { type BufferWindow, gpu } from "../gpu.ts";
import { empty, type Tensor } from "../tensor.ts";
import type { ConvGeometry } from "./conv_ref.ts";
import { decls, grid, main1d, run } from "./kernel.ts";
import { tileGrid, u32 } from "./matmul_spec.ts";
import { address, type Placement } from "./texture_layout.ts";
import { type DirectPool, pooledStores } from "./conv_direct_pool.ts";

/** A texture and where its lines live. */
export interface PlacedTexture {
  tex: GPUTexture;
  place: Placement;
}

/** Output channels per invocation of the weight-gradient kernel. */
const TM = 8;

/** Invocations a workgroup of the weight-gradient kernel (and its least per image). */
const WG = 64;

/** The product kernel's tile: `tm` output channels × `ng` groups of 4 positions. */
interface DirectTile {
  tm: number;
  ng: number;
}

/**
 * The product's tile: 8 channels × 2 groups. On lavapipe 4×8, 8×4, 4×16, 8×12, 8×16, 12×8
 * and 16×8 measured within the machine's noise of it (the generator takes any of them).
 */
const TILE: DirectTile = { tm: 8, ng: 2 };

/** Texels of the window holding KW taps of 4 neighbouring positions. */
export const windowTexels = (kw: number): number => Math.ceil((kw + 3) / 4);

export interface DirectDims {
  /** Images. */
  N: number;
  /** Input channels (the reduction's channel axis). */
  C: number;
  /** Output channels. */
  M: number;
  /** Output rows and columns. */
  OH: number;
  OW: number;
  KH: number;
  KW: number;
  /** Padded rows per channel in the input texture. */
  rows: number;
  /**
   * Columns the input texture is padded by past the convolution's own left padding (0–3):
   * the window of positions 4t … 4t + 3 then starts at component `shift` of texel t.
   */
  shift?: number;
  /**
   * The texture's lines `pt` … `pt` + `h` − 1 of each channel hold data, the others the
   * padding's zeros: an invocation skips the kernel rows that read only zeros for all its
   * positions (a small image's input gradient reads a third to half of zero rows).
   */
  data?: { pt: number; h: number };
}

/**
 * Where the weight gradient finds the output gradient in its texture: `rows` lines a
 * channel, output row oh at line `pt` + oh, and output columns 4t − `shift` … 4t + 3 −
 * `shift` in texel `t0` + t (the input gradient's padded texture, shared; or an unpadded
 * one: pt = t0 = shift = 0).
 */
export interface GradPlacement {
  rows: number;
  pt: number;
  t0: number;
  shift: number;
}

/**
 * Records out [N][M][OH][OW] = Σ_{c,ky,kx} wt[(c·KH+ky)·KW+kx][m] · in[n][c][oh+ky][ow+kx]
 * (+ bias[m]) (+ ReLU) (then a 2×2 max pool, `pool`), reading `xin` (as `padTexture` made
 * it) and `wt` (`weightTexture`).
 */
export function directProduct(
  xin: PlacedTexture,
  wt: PlacedTexture,
  bias: Tensor | null,
  out: Tensor,
  d: DirectDims,
  relu: boolean,
  pool: DirectPool | null = null,
): void {
  const g = gpu();
  // A pooled invocation's two groups are the two rows of its windows.
  const tile = pool ? { tm: TILE.tm, ng: 2 } : TILE;
  const pk = pool ? (pool.am ? 2 : 1) : 0;
  const key = JSON.stringify([
    d,
    xin.place,
    wt.place.texels,
    !!bias,
    relu,
    tile,
    pk,
  ]);
  let k = productKernels.get(key);
  if (!k) {
    k = productKernel(xin.place, wt.place, !!bias, d, relu, tile, pk);
    if (productKernels.size >= 256) productKernels.clear();
    productKernels.set(key, k);
  }
  const bind = (t: Tensor) => ({ buffer: t.buffer, offset: 0, size: Math.max(4, t.bytes) });
  g.dispatch(
    k.code,
    [
      g.view(xin.tex),
      g.view(wt.tex),
      bind(out),
      ...(bias ? [bind(bias)] : []),
      ...(pool?.am ? [bind(pool.am)] : []),
    ],
    k.workgroups,
  );
}

/** Generated product kernels by shape (generating the WGSL cost more than recording). */
const productKernels = new Map<string, { code: string; workgroups: [number, number, number] }>();

function productKernel(
  xp: Placement,
  wp: Placement,
  bias: boolean,
  d: DirectDims,
  relu: boolean,
  tile: DirectTile,
  pool: number, // 0: none, 1: pooled, 2: pooled with the winners
): { code: string; workgroups: [number, number, number] } {
  const { N, C, M, OH, OW, KH, KW, rows } = d;
  const { tm: TMp, ng: NG } = tile;
  const TN = 4 * NG, MT = TMp / 4;
  const sh = d.shift ?? 0;
  const OWG = Math.ceil(OW / 4), nt = windowTexels(KW + sh);
  const OHp = Math.floor(OH / 2), OWp = Math.floor(OW / 2);
  // Pooled: a tile is one (window row, texel) pair, its groups the window's two rows.
  const groups = pool ? OHp * OWG : OH * OWG;
  const colTiles = pool ? groups : Math.ceil(groups / NG), rowTiles = Math.ceil(M / TMp);
  let wgx = 8, wgy = 8;
  while (wgy > 1 && wgy / 2 >= rowTiles) [wgy, wgx] = [wgy / 2, wgx * 2];
  while (wgx > 8 && wgx / 2 >= colTiles) [wgx, wgy] = [wgx / 2, wgy * 2];
  const grd = tileGrid(Math.ceil(colTiles / wgx), Math.ceil(rowTiles / wgy), N);
  const L: string[] = [];
  const tex = "texture_storage_2d_array<rgba32float, read>";
  // Store width: 4 positions when rows are a multiple of 4 long, else 2 when even, else 1
  // (a conditional scalar store per lane is far dearer than the FMAs on software adapters).
  const V = pool ? (OWp % 2 === 0 ? 2 : 1) : OW % 4 === 0 ? 4 : OW % 2 === 0 ? 2 : 1;
  const vt = (t: string) => (V > 1 ? `vec${V}<${t}>` : t);
  L.push(`@group(0) @binding(0) var X: ${tex};`);
  L.push(`@group(0) @binding(1) var WT: ${tex};`);
  L.push(`@group(0) @binding(2) var<storage, read_write> Y: array<${vt("f32")}>;`);
  if (bias) L.push(`@group(0) @binding(3) var<storage, read> bias: array<f32>;`);
  if (pool === 2) {
    L.push(
      `@group(0) @binding(${bias ? 4 : 3}) var<storage, read_write> AM: array<${vt("i32")}>;`,
    );
  }
  L.push(`@compute @workgroup_size(${wgx}, ${wgy}, 1)`);
  L.push(
    `fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {`,
  );
  L.push(grd.decode);
  L.push(`  let rt = ty * ${u32(wgy)} + lid.y;`);
  L.push(`  let ct = tx * ${u32(wgx)} + lid.x;`);
  L.push(`  if (ct >= ${u32(colTiles)} || rt >= ${u32(rowTiles)}) { return; }`);
  L.push(`  let m0 = rt * ${u32(TMp)};`);
  const ad = address(xp, "bz", "0u");
  L.push(`  let xl = ${ad.layer};`);
  L.push(`  let xy = ${ad.y};`);
  for (let j = 0; j < NG; j++) {
    if (pool) {
      L.push(`  let gq${j} = ct;`);
      L.push(`  let oh${j} = (ct / ${u32(OWG)}) * 2u + ${u32(j)};`);
      L.push(`  let xt${j} = ct % ${u32(OWG)};`);
    } else {
      L.push(`  let gq${j} = min(ct * ${u32(NG)} + ${u32(j)}, ${u32(groups - 1)});`);
      L.push(`  let oh${j} = gq${j} / ${u32(OWG)};`);
      L.push(`  let xt${j} = gq${j} % ${u32(OWG)};`);
    }
    L.push(`  let yb${j} = xy + oh${j};`);
  }
  for (let t = 0; t < MT; t++) {
    L.push(`  let mt${t} = min(m0 / 4u + ${u32(t)}, ${u32(wp.texels - 1)});`);
  }
  for (let i = 0; i < TMp; i++) for (let j = 0; j < TN; j++) L.push(`  var c${i}_${j} = 0.0;`);
  const comp = ["x", "y", "z", "w"];
  // Kernel rows ky read line oh + ky: data for pt − oh ≤ ky < pt + h − oh.
  const dr = d.data;
  const skipRows = !!dr && (dr.pt > 0 || dr.pt + dr.h < OH + KH - 1);
  if (skipRows) {
    const ohs = [...Array(NG).keys()].map((j) => `i32(oh${j})`);
    const fold = (f: string) => ohs.reduce((a, b) => `${f}(${a}, ${b})`);
    L.push(`  let kyLo = u32(max(0, ${dr!.pt} - ${fold("max")}));`);
    L.push(`  let kyHi = u32(clamp(${dr!.pt + dr!.h} - ${fold("min")}, 0, ${KH}));`);
  }
  L.push(`  for (var c = 0u; c < ${u32(C)}; c++) {`);
  L.push(
    skipRows
      ? `    for (var ky = kyLo; ky < kyHi; ky++) {`
      : `    for (var ky = 0u; ky < ${u32(KH)}; ky++) {`,
  );
  L.push(`      let row = c * ${u32(rows)} + ky;`);
  L.push(`      let kb = (c * ${u32(KH)} + ky) * ${u32(KW)};`);
  for (let j = 0; j < NG; j++) {
    for (let t = 0; t < nt; t++) {
      L.push(
        `      let b${j}_${t} = textureLoad(X, vec2<u32>(xt${j} + ${u32(t)}, yb${j} + row), xl);`,
      );
    }
  }
  const win = (j: number, e: number) => `b${j}_${e >> 2}.${comp[e & 3]}`;
  for (let kx = 0; kx < KW; kx++) {
    for (let t = 0; t < MT; t++) {
      L.push(`      let a${kx}_${t} = textureLoad(WT, vec2<u32>(mt${t}, kb + ${u32(kx)}), 0u);`);
    }
    for (let i = 0; i < TMp; i++) {
      const a = `a${kx}_${i >> 2}.${comp[i & 3]}`;
      for (let j = 0; j < TN; j++) {
        L.push(`      c${i}_${j} = fma(${a}, ${win(j >> 2, sh + (j & 3) + kx)}, c${i}_${j});`);
      }
    }
  }
  L.push(`    }`);
  L.push(`  }`);
  if (pool) {
    pooledStores(L, { M, OHp, OWp, TMp, V, bias, relu, arg: pool === 2 });
    L.push(`}`);
    return { code: L.join("\n") + "\n", workgroups: grd.workgroups };
  }
  // Stores: group j holds positions (oh_j, 4·xt_j + q).
  for (let i = 0; i < TMp; i++) {
    L.push(`  if (m0 + ${u32(i)} < ${u32(M)}) {`);
    L.push(`    let ob = (bz * ${u32(M)} + m0 + ${u32(i)}) * ${u32(OH * OW)};`);
    if (bias) L.push(`    let bv = bias[m0 + ${u32(i)}];`);
    for (let j = 0; j < NG; j++) {
      L.push(`    if (ct * ${u32(NG)} + ${u32(j)} < ${u32(groups)}) {`);
      const val = (q: number) => {
        let v = `c${i}_${4 * j + q}`;
        if (bias) v = `${v} + bv`;
        return relu ? `max(${v}, 0.0)` : v;
      };
      const vals = (q0: number) =>
        V === 1
          ? val(q0)
          : `vec${V}<f32>(${[...Array(V).keys()].map((q) => val(q0 + q)).join(", ")})`;
      for (let q0 = 0; q0 < 4; q0 += V) {
        const idx = `(ob + oh${j} * ${u32(OW)} + xt${j} * 4u + ${u32(q0)})${
          V > 1 ? ` / ${u32(V)}` : ""
        }`;
        const st = `Y[${idx}] = ${vals(q0)};`;
        // The group's first V positions always exist; later ones may pass the row's end.
        L.push(
          q0 === 0 || V === 4
            ? `      ${st}`
            : `      if (xt${j} * 4u + ${u32(q0)} < ${u32(OW)}) { ${st} }`,
        );
      }
      L.push(`    }`);
    }
    L.push(`  }`);
  }
  L.push(`}`);
  return { code: L.join("\n") + "\n", workgroups: grd.workgroups };
}

/** Bytes the weight gradient's per-image partial sums may take per dispatch. */
let partialBytes = 64 * 2 ** 20;

/** Sets that budget (tests use it to split the images over dispatches). Returns the old one. */
export function setDirectPartialBytes(bytes: number): number {
  const old = partialBytes;
  partialBytes = bytes;
  return old;
}

/**
 * Invocations the weight gradient aims for in all: 128 a core (16 vectors of 8 lanes on a
 * software adapter). Images are grouped into one invocation's loop until no more than this
 * many remain, so a small image's short loop does not end in its partial sums' stores
 * (lavapipe, 2 cores, alternating rounds: the scene CNN's conv3 and the Fashion-MNIST CNN's
 * conv2 forward + backward 8–17% faster, its conv2 10–14%; targets of 256, 512 and 1024
 * alike).
 */
let gradLanes = 128 * Math.max(1, navigator.hardwareConcurrency || 1);

/** Sets that target (tests use it to force groups of images). Returns the old one. */
export function setDirectGradLanes(lanes: number): number {
  const old = gradLanes;
  gradLanes = lanes;
  return old;
}

/**
 * The weight gradient dw [Cout][C][KH][KW] = Σ_n Σ_(oh,ow) g[n][co][oh][ow] ·
 * x[n][c][oh+ky][ow+kx] and the bias gradient db [Cout] = Σ g, reading `gt` (the output
 * gradient, placed as `gp` says) and `xin` (the forward's input texture, padded on the left
 * by `gp.shift` columns more than the convolution). Each invocation sums over the output
 * positions of a group of `IB` images (one image when an image alone gives enough
 * invocations; a small image's loop is short, and its 8·KW or more stores then cost as much
 * as the loop) and writes partial sums [Cout][K + 1] (K = C·KH·KW; column K the bias's),
 * which one more kernel adds up into dw and db; a single group writes dw and db itself.
 */
export function directWeightGrad(
  gt: PlacedTexture,
  gp: GradPlacement,
  xin: PlacedTexture,
  p: ConvGeometry,
  rows: number,
): { dw: Tensor; db: Tensor } {
  const g = gpu();
  const { N, C, Cout: M, OH, OW, KH, KW } = p;
  const K = C * KH * KW, R = K + 1, nt = windowTexels(KW);
  const OWG = Math.ceil((OW + gp.shift) / 4); // texels holding the output columns
  // Kernel rows per invocation: all of a small kernel's (the output gradient's texel then
  // serves KH·KW taps), one row of a larger one (register pressure).
  const RB = KH * KW <= 9 ? KH : 1, blocks = KH / RB;
  const cols = C * blocks + 1, rowTiles = Math.ceil(M / TM);
  // A layer with few input channels has few (column, channel tile) pairs an image (the
  // first layer of a grey-scale network: 4): its output rows are then split into slices,
  // each an invocation with its own partial sums, so that an image has at least WG of them.
  const pairs = cols * rowTiles;
  const rowsPer = pairs >= WG ? OH : Math.ceil(OH / Math.min(OH, Math.ceil(WG / pairs)));
  const S = Math.ceil(OH / rowsPer), lanes = pairs * S;
  // Images an invocation: as many as keep `gradLanes` invocations in all.
  const IB = S > 1 ? 1 : Math.max(1, Math.min(N, Math.floor((N * lanes) / gradLanes)));
  const groups = Math.max(1, Math.floor(partialBytes / (S * M * R * 4)));
  const per = Math.min(N, groups * IB); // images a dispatch
  const direct = per >= N && Math.ceil(N / IB) * S === 1; // one partial: dw and db themselves
  const dw = empty([M, C, KH, KW]), db = empty([M]);
  const comp = ["x", "y", "z", "w"];
  const tex = "texture_storage_2d_array<rgba32float, read>";
  for (let n0 = 0; n0 < N; n0 += per) {
    const nb = Math.min(per, N - n0), Z = Math.ceil(nb / IB);
    const key = JSON.stringify([p, gt.place, gp, xin.place, rows, n0, nb, IB, partialBytes]);
    let k = gradKernels.get(key);
    if (!k) {
      k = ((): { code: string; workgroups: [number, number, number] } => {
        const grd = tileGrid(Math.ceil(lanes / WG), 1, Z);
        const L: string[] = [];
        L.push(`@group(0) @binding(0) var G: ${tex};`);
        L.push(`@group(0) @binding(1) var X: ${tex};`);
        if (direct) {
          L.push(`@group(0) @binding(2) var<storage, read_write> DW: array<f32>;`);
          L.push(`@group(0) @binding(3) var<storage, read_write> DB: array<f32>;`);
        } else L.push(`@group(0) @binding(2) var<storage, read_write> P: array<f32>;`);
        L.push(`@compute @workgroup_size(${WG}, 1, 1)`);
        L.push(
          `fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {`,
        );
        L.push(grd.decode);
        // Lane → (column, channel tile, row slice), the column fastest.
        L.push(`  let lane = tx * ${u32(WG)} + lid.x;`);
        L.push(`  if (lane >= ${u32(lanes)}) { return; }`);
        L.push(`  let col = lane % ${u32(cols)};`);
        L.push(`  let rt = (lane / ${u32(cols)}) % ${u32(rowTiles)};`);
        L.push(`  let sl = lane / ${u32(pairs)};`);
        L.push(`  let oh0 = sl * ${u32(rowsPer)};`);
        L.push(`  let oh1 = min(oh0 + ${u32(rowsPer)}, ${u32(OH)});`);
        L.push(`  let m0 = rt * ${u32(TM)};`);
        // Rows of G for the 8 channels within an image (clamped: rows past M are never stored).
        for (let i = 0; i < TM; i++) {
          L.push(
            `  let gr${i} = min(m0 + ${u32(i)}, ${u32(M - 1)}) * ${u32(gp.rows)} + ${u32(gp.pt)};`,
          );
        }
        L.push(`  let isBias = col == ${u32(cols - 1)};`);
        L.push(`  let cy = min(col, ${u32(cols - 2)});`);
        L.push(`  let ky0 = (cy % ${u32(blocks)}) * ${u32(RB)};`);
        L.push(`  let tap0 = ((cy / ${u32(blocks)}) * ${u32(KH)} + ky0) * ${u32(KW)};`);
        L.push(`  let xr = (cy / ${u32(blocks)}) * ${u32(rows)} + ky0;`);
        const T = RB * KW; // taps per invocation, tap j = row j / KW, column j % KW
        for (let i = 0; i < TM; i++) for (let k = 0; k < T; k++) L.push(`  var c${i}_${k} = 0.0;`);
        const ga = address(gt.place, "n", "0u"), xa = address(xin.place, "n", "0u");
        const nA = `${u32(n0)} + bz * ${u32(IB)}`;
        L.push(`  for (var n = ${nA}; n < min(${nA} + ${u32(IB)}, ${u32(n0 + nb)}); n++) {`);
        L.push(`  let gl = ${ga.layer};`);
        L.push(`  let gb = ${ga.y};`);
        L.push(`  let xl = ${xa.layer};`);
        L.push(`  let xy = ${xa.y} + xr;`);
        L.push(`  if (isBias) {`);
        L.push(`    for (var oh = oh0; oh < oh1; oh++) {`);
        L.push(`      for (var t = 0u; t < ${u32(OWG)}; t++) {`);
        for (let i = 0; i < TM; i++) {
          L.push(
            `        let a${i} = textureLoad(G, vec2<u32>(t + ${
              u32(gp.t0)
            }, gb + gr${i} + oh), gl);`,
          );
          L.push(`        c${i}_0 = c${i}_0 + (a${i}.x + a${i}.y) + (a${i}.z + a${i}.w);`);
        }
        L.push(`      }`);
        L.push(`    }`);
        L.push(`  } else {`);
        L.push(`    for (var oh = oh0; oh < oh1; oh++) {`);
        L.push(`      for (var t = 0u; t < ${u32(OWG)}; t++) {`);
        for (let i = 0; i < TM; i++) {
          L.push(
            `        let a${i} = textureLoad(G, vec2<u32>(t + ${
              u32(gp.t0)
            }, gb + gr${i} + oh), gl);`,
          );
        }
        for (let r = 0; r < RB; r++) {
          for (let e = 0; e < nt; e++) {
            L.push(
              `        let b${r}_${e} = textureLoad(X, vec2<u32>(t + ${u32(e)}, xy + oh + ${
                u32(r)
              }), xl);`,
            );
          }
        }
        for (let q = 0; q < 4; q++) {
          for (let k = 0; k < T; k++) {
            const r = Math.floor(k / KW), e = q + (k % KW), b = `b${r}_${e >> 2}.${comp[e & 3]}`;
            for (let i = 0; i < TM; i++) {
              L.push(`        c${i}_${k} = fma(a${i}.${comp[q]}, ${b}, c${i}_${k});`);
            }
          }
        }
        L.push(`      }`);
        L.push(`    }`);
        L.push(`  }`);
        L.push(`  }`);
        // Partial sums of image group bz, slice sl: P[bz·S + sl][m][K + 1], columns
        // (c·KH + ky)·KW + kx, or K (bias); or dw [M][K] and db [M] themselves.
        for (let i = 0; i < TM; i++) {
          L.push(`  if (m0 + ${u32(i)} < ${u32(M)}) {`);
          if (direct) {
            L.push(`    let pb = (m0 + ${u32(i)}) * ${u32(K)};`);
            L.push(`    if (isBias) { DB[m0 + ${u32(i)}] = c${i}_0; } else {`);
            for (let k = 0; k < T; k++) L.push(`      DW[pb + tap0 + ${u32(k)}] = c${i}_${k};`);
          } else {
            L.push(
              `    let pb = ((bz * ${u32(S)} + sl) * ${u32(M)} + m0 + ${u32(i)}) * ${u32(R)};`,
            );
            L.push(`    if (isBias) { P[pb + ${u32(K)}] = c${i}_0; } else {`);
            for (let k = 0; k < T; k++) L.push(`      P[pb + tap0 + ${u32(k)}] = c${i}_${k};`);
          }
          L.push(`    }`);
          L.push(`  }`);
        }
        L.push(`}`);
        return { code: L.join("\n") + "\n", workgroups: grd.workgroups };
      })();
      if (gradKernels.size >= 256) gradKernels.clear();
      gradKernels.set(key, k);
    }
    const views = [g.view(gt.tex), g.view(xin.tex)];
    if (direct) {
      g.dispatch(k.code, [...views, ...[dw, db].map(whole)], k.workgroups);
      continue;
    }
    const part = empty([Z * S, M, R]);
    g.dispatch(k.code, [...views, whole(part)], k.workgroups);
    sumWeightParts(part, dw, db, Z * S, n0 > 0, M, K);
    part.dispose();
  }
  return { dw, db };
}

/** A tensor's whole buffer range as a binding. */
const whole = (t: Tensor): BufferWindow => ({ buffer: t.buffer, offset: 0, size: t.bytes });

/** dw [M][K] and db [M] (+)= Σ_k part[k] (each [M][K + 1], column K the bias's). */
function sumWeightParts(
  part: Tensor,
  dw: Tensor,
  db: Tensor,
  count: number,
  accumulate: boolean,
  M: number,
  K: number,
): void {
  const R = K + 1, n = M * R;
  const code = `${decls(["part", "dw", "db"], 2)}
${main1d(n)}
  let m = i / ${u32(R)};
  let col = i % ${u32(R)};
  var acc = 0.0;
  for (var k = 0u; k < ${u32(count)}; k++) { acc = acc + part[k * ${u32(n)} + i]; }
  if (col < ${u32(K)}) {
    let o = m * ${u32(K)} + col;
    dw[o] = ${accumulate ? "dw[o] + " : ""}acc;
  } else {
    db[m] = ${accumulate ? "db[m] + " : ""}acc;
  }
}`;
  run(code, [part, dw, db], grid(n));
}

/** Generated weight-gradient kernels by shape. */
const gradKernels = new Map<string, { code: string; workgroups: [number, number, number] }>();

/** out[i] (+)= Σ_k part[k][i] over `count` partial sums (per image, per chunk …). */
export function sumParts(part: Tensor, out: Tensor, count: number, accumulate: boolean): void {
  const n = out.size;
  const code = `${decls(["part", "out"])}
${main1d(n, 64)}
  var acc = ${accumulate ? "out[i]" : "0.0"};
  for (var k = 0u; k < ${count}u; k++) { acc = acc + part[k * ${n}u + i]; }
  out[i] = acc;
}`;
  run(code, [part, out], grid(n, 64));
}

/** Padded rows per channel and texels per row of a conv input's texture. */
