/**
 * The product kernel of the direct convolution (`conv_direct.ts` packs its textures and
 * holds the op): the forward and input-gradient product, with bias, ReLU and the 2×2 max
 * pool fused. WGSL generation and dispatch; layouts as documented there. The weight
 * gradient is `conv_direct_grad.ts`.
 *
 * @module
 */
import { gpu } from "../gpu.ts";
import { hostHasAvx512 } from "../gpu_env.ts";
import type { Tensor } from "../tensor.ts";
import { tileGrid, u32 } from "./matmul_spec.ts";
import { address, type Placement } from "./texture_layout.ts";
import { type DirectPool, pooledStores } from "./conv_direct_pool.ts";
import { flatDecl, flatLoad, flatTexture, textureReads } from "./texture_read.ts";

/** A texture and where its lines live. */
export interface PlacedTexture {
  tex: GPUTexture;
  place: Placement;
}

/** The product kernel's tile: `tm` output channels × `ng` groups of 4 positions. */
interface DirectTile {
  tm: number;
  ng: number;
}

/**
 * The product's tile where the host CPU has AVX-512: 8 channels × 4 groups (16 positions).
 * On an AVX-512 Xeon (lavapipe 256 bits, 32 vector registers) it beat 8 × 2 by 5–20% on
 * every benchmarked layer in alternating rounds (scene conv1 forward 91 → 73 ms,
 * Fashion-MNIST conv2 4.8 → 4.5 ms); 4 × 4, 4 × 8, 8 × 3, 8 × 5, 8 × 6, 8 × 8, 12 × 3,
 * 12 × 4, 16 × 2 and 16 × 4 were slower on at least one.
 */
const WIDE_TILE: DirectTile = { tm: 8, ng: 4 };

/**
 * The tile elsewhere: 8 channels × 2 groups. On an AVX2 EPYC (16 vector registers), forward
 * ms a call in alternating rounds (8 × 4 → 8 × 2): scene conv1 138 → 116, conv2 137 → 90,
 * conv3 3.05 → 2.72, Fashion-MNIST conv2 7.2 → 6.3; the scene CNN's training step 1,269 →
 * 1,198 ms (5 rounds of 5, each in its favour). 4 × 2, 4 × 3, 4 × 4, 8 × 1, 8 × 3 and 12 × 1
 * were slower on the large layers.
 */
const NARROW_TILE: DirectTile = { tm: 8, ng: 2 };

/** The product tile setting: per host CPU (`"auto"`), or fixed (tests run both). */
let tileSetting: "auto" | "8x4" | "8x2" = "auto";

/**
 * Fixes the direct convolution's product tile, or (`"auto"`, the default) takes 8 × 4
 * where the host CPU has AVX-512 and 8 × 2 elsewhere. The tile changes no result: each
 * output sums its terms in the same order. Returns the previous setting.
 */
export function setDirectTile(t: "auto" | "8x4" | "8x2"): "auto" | "8x4" | "8x2" {
  const old = tileSetting;
  tileSetting = t;
  return old;
}

function productTile(): DirectTile {
  const wide = tileSetting === "8x4" || (tileSetting === "auto" && hostHasAvx512());
  return wide ? WIDE_TILE : NARROW_TILE;
}

/**
 * Texels of one row a pooled product's invocation owns (its windows' two rows of them): 2,
 * so its 4 groups match `WIDE_TILE`. The Fashion-MNIST CNN's pooled layers forward,
 * alternating rounds on the AVX-512 Xeon: conv1 1.37 → 1.32 ms, conv2 4.70 → 4.50 ms against
 * 1 texel; 3 texels 1.64 and 5.75 ms. On the AVX2 EPYC 1 texel measured within the noise (the
 * Fashion-MNIST CNN's step 35.9 against 32.8 ms), so both processors take 2.
 */
const POOL_TEXELS = 2;

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
   * positions (a small image's input gradient reads a third to half of zero rows). With
   * `pl` and `w`, texture columns `pl` … `pl` + `w` − 1 hold data (see `staticColumns`).
   */
  data?: { pt: number; h: number; pl?: number; w?: number };
}

/** Whether the product drops the multiply-adds it knows read zeros (`setDirectSkipZeros`). */
let skipZeros = true;

/**
 * Turns off (or back on) the product's static skipping of multiply-adds on padding columns
 * and past the row's end (`staticColumns`). Results are the same bits either way for finite
 * inputs; tests compare both. Returns the old setting.
 */
export function setDirectSkipZeros(on: boolean): boolean {
  const old = skipZeros;
  skipZeros = on;
  return old;
}

/**
 * Input channels × kernel rows up to which the product has no loop over them, only their
 * steps (`setDirectUnroll`). Forward, alternating rounds (AVX-512 EPYC): the scene CNN's
 * conv1 (3 × 5 = 15) 67.8 → 58.6 ms (5 of 5), its training step 559 → 530 ms (7 of 7);
 * Fashion-MNIST's conv1 (1 × 3) 1.21 → 1.09 ms (11 of 11). Its conv2 (16 × 3 = 48) gained 8%
 * but took 9 s to compile (the loop: 0.05 s), and the scene CNN's conv3 (32 × 5) ran 17%
 * slower and compiled for minutes: so 16.
 */
let unrollRows = 16;

/** Sets that bound (tests run both; the same bits). Returns the old one. */
export function setDirectUnroll(rows: number): number {
  const old = unrollRows;
  unrollRows = rows;
  return old;
}

/**
 * Whether every group j of a tile sits at the same texel column j mod OWG of its row in
 * every tile: when the tile's NG groups are whole rows (NG a multiple of the row's OWG
 * groups; the scene CNN's conv3 input gradient and the Fashion-MNIST CNN's conv2, 14 wide,
 * are one row a tile). The kernel then knows, while it is generated, which of a group's
 * positions pass the row's end (14 positions in 16) and which window columns are the
 * padding's zeros (the input gradient of a 5×5 kernel over 10 columns reads 4 zero columns
 * each side), and leaves those multiply-adds out: adding a·0 changes no finite sum. Forward +
 * backward, alternating rounds of one process (AVX-512 EPYC): the scene CNN's conv3 4.30 →
 * 3.75 ms (9 of 11 rounds), its input-gradient product 1.67 → about 1.0 ms; Fashion-MNIST's
 * conv2 forward 3.64 → 3.31 ms (11 of 11).
 */
function staticColumns(pool: boolean, NG: number, OWG: number): boolean {
  return skipZeros && !pool && NG % OWG === 0;
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
  // A pooled invocation's groups are the two rows of its windows, POOL_TEXELS texels each.
  const tile = pool ? { tm: 8, ng: 2 * POOL_TEXELS } : productTile();
  const pk = pool ? (pool.am ? 2 : 1) : 0;
  // The bias through a flat texture where storage loads are slow: 8 storage loads an
  // invocation took 9% of VGG16's first layer (3 → 64 channels at 150², alternating rounds).
  const bt = bias && textureReads() ? flatTexture(bias.buffer, 0, Math.ceil(d.M / 4)) : null;
  const bk: BiasRead = !bias ? null : bt ? { rows: bt.rows, layers: bt.layers } : "storage";
  const key = JSON.stringify([
    skipZeros,
    unrollRows,
    d,
    xin.place,
    wt.place.texels,
    bk,
    relu,
    tile,
    pk,
  ]);
  let k = productKernels.get(key);
  if (!k) {
    k = productKernel(xin.place, wt.place, bk, d, relu, tile, pk);
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
      ...(bt ? [g.view(bt.tex)] : bias ? [bind(bias)] : []),
      ...(pool?.am ? [bind(pool.am)] : []),
    ],
    k.workgroups,
  );
  if (bt) g.releaseTexture(bt.tex);
}

/** How the product reads the bias: none, storage loads, or a flat texture of this layout. */
type BiasRead = null | "storage" | { rows: number; layers: number };

/** Generated product kernels by shape (generating the WGSL cost more than recording). */
const productKernels = new Map<string, { code: string; workgroups: [number, number, number] }>();

function productKernel(
  xp: Placement,
  wp: Placement,
  bias: BiasRead,
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
  // Pooled: a tile is one window row × PT texels, its groups the windows' two rows of them.
  const PT = NG / 2, OWGP = Math.ceil(OWG / PT);
  const groups = pool ? OHp * OWGP : OH * OWG;
  const colTiles = pool ? groups : Math.ceil(groups / NG), rowTiles = Math.ceil(M / TMp);
  // Lanes run along the tiles of all images (tile gt: image gt / colTiles), so a small
  // image's few tiles share a workgroup with the next image's; rows of tiles (channels)
  // span the workgroup's height, no more of it than there are. Against a grid of whole
  // workgroups per image (AVX2 EPYC, ms a call, medians of 9 alternating rounds): the scene
  // CNN's conv3 (30 tiles an image) forward 5.53 → 5.19, forward + backward 18.6 → 17.4;
  // the Fashion-MNIST CNN's conv2 forward 12.0 → 11.5.
  let wgy = 8;
  while (wgy > 1 && wgy / 2 >= rowTiles) wgy /= 2;
  const wgx = 64 / wgy, allTiles = N * colTiles;
  const grd = tileGrid(Math.ceil(allTiles / wgx), Math.ceil(rowTiles / wgy), 1, "wz");
  const L: string[] = [];
  const fixedCols = staticColumns(!!pool, NG, OWG);
  const tex = "texture_storage_2d_array<rgba32float, read>";
  // Store width: 4 positions when rows are a multiple of 4 long, else 2 when even, else 1
  // (a conditional scalar store per lane is far dearer than the FMAs on software adapters).
  const V = pool ? (OWp % 2 === 0 ? 2 : 1) : OW % 4 === 0 ? 4 : OW % 2 === 0 ? 2 : 1;
  const vt = (t: string) => (V > 1 ? `vec${V}<${t}>` : t);
  L.push(`@group(0) @binding(0) var X: ${tex};`);
  L.push(`@group(0) @binding(1) var WT: ${tex};`);
  L.push(`@group(0) @binding(2) var<storage, read_write> Y: array<${vt("f32")}>;`);
  if (bias === "storage") L.push(`@group(0) @binding(3) var<storage, read> bias: array<f32>;`);
  else if (bias) L.push(flatDecl(3, "BT"));
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
  L.push(`  let gt = tx * ${u32(wgx)} + lid.x;`);
  L.push(`  if (gt >= ${u32(allTiles)} || rt >= ${u32(rowTiles)}) { return; }`);
  L.push(`  let bz = gt / ${u32(colTiles)};`);
  L.push(`  let ct = gt % ${u32(colTiles)};`);
  L.push(`  let m0 = rt * ${u32(TMp)};`);
  const ad = address(xp, "bz", "0u");
  L.push(`  let xl = ${ad.layer};`);
  L.push(`  let xy = ${ad.y};`);
  for (let j = 0; j < NG; j++) {
    if (pool) {
      // Group j: row j / PT of the windows, texel j % PT of the tile's (clamped to the row).
      const q = j % PT;
      if (j < PT) L.push(`  let xq${q} = (ct % ${u32(OWGP)}) * ${u32(PT)} + ${u32(q)};`);
      L.push(`  let oh${j} = (ct / ${u32(OWGP)}) * 2u + ${u32(Math.floor(j / PT))};`);
      L.push(`  let xt${j} = min(xq${q}, ${u32(OWG - 1)});`);
    } else {
      L.push(`  let gq${j} = min(ct * ${u32(NG)} + ${u32(j)}, ${u32(groups - 1)});`);
      L.push(`  let oh${j} = gq${j} / ${u32(OWG)};`);
      // (A clamped group of the last tile is never stored: its static column may be wrong.)
      L.push(`  let xt${j} = ${fixedCols ? u32(j % OWG) : `gq${j} % ${u32(OWG)}`};`);
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
  const head = L.length;
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
  }
  // All of the row's weight texels first, then each accumulator's KW taps back to back: the
  // same sums in the same order as kx outermost, but lavapipe spills less (Fashion-MNIST's
  // pooled conv2 forward: 12.8 → 10.1 ms a call, 11 of 11 rounds; docs/lavapipe_kernels.md).
  // With static columns: position 4·xt + q of group j reads texture column 4·xt + e.
  const dead = (j: number, kx: number) => {
    if (!fixedCols) return false;
    const xt = (j >> 2) % OWG, q = j & 3, tc = 4 * xt + sh + q + kx;
    const pl = dr?.pl, w = dr?.w;
    return 4 * xt + q >= OW || (pl !== undefined && w !== undefined && (tc < pl || tc >= pl + w));
  };
  for (let i = 0; i < TMp; i++) {
    for (let j = 0; j < TN; j++) {
      for (let kx = 0; kx < KW; kx++) {
        if (dead(j, kx)) continue;
        const a = `a${kx}_${i >> 2}.${comp[i & 3]}`;
        L.push(`      c${i}_${j} = fma(${a}, ${win(j >> 2, sh + (j & 3) + kx)}, c${i}_${j});`);
      }
    }
  }
  const body = L.splice(head);
  if (C * KH <= unrollRows) {
    // The same steps in the same order, each (channel, kernel row) a block of its own.
    for (let c = 0; c < C; c++) {
      for (let ky = 0; ky < KH; ky++) {
        const when = skipRows ? `if (${u32(ky)} >= kyLo && ${u32(ky)} < kyHi) ` : "";
        L.push(`  ${when}{`, `    let c = ${u32(c)};`, `    let ky = ${u32(ky)};`, ...body, `  }`);
      }
    }
  } else {
    L.push(`  for (var c = 0u; c < ${u32(C)}; c++) {`);
    L.push(
      skipRows
        ? `    for (var ky = kyLo; ky < kyHi; ky++) {`
        : `    for (var ky = 0u; ky < ${u32(KH)}; ky++) {`,
    );
    L.push(...body);
    L.push(`    }`);
    L.push(`  }`);
  }
  // Channel i's bias: component i % 4 of texel mt_{i/4} of the texture (4 channels a texel
  // like the weights' lines), or a storage load.
  if (bias && bias !== "storage") {
    for (let t = 0; t < MT; t++) L.push(`  let bq${t} = ${flatLoad("BT", `mt${t}`, bias)};`);
  }
  const biasAt = !bias
    ? null
    : bias === "storage"
    ? (i: number) => `bias[m0 + ${u32(i)}]`
    : (i: number) => `bq${i >> 2}.${comp[i & 3]}`;
  if (pool) {
    pooledStores(L, { M, OHp, OWp, TMp, PT, V, bias: biasAt, relu, arg: pool === 2 });
    L.push(`}`);
    return { code: L.join("\n") + "\n", workgroups: grd.workgroups };
  }
  // Stores: group j holds positions (oh_j, 4·xt_j + q).
  for (let i = 0; i < TMp; i++) {
    L.push(`  if (m0 + ${u32(i)} < ${u32(M)}) {`);
    L.push(`    let ob = (bz * ${u32(M)} + m0 + ${u32(i)}) * ${u32(OH * OW)};`);
    if (biasAt) L.push(`    let bv = ${biasAt(i)};`);
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
