/**
 * The weight and bias gradients of the direct convolution (`conv_direct.ts` packs their
 * textures and holds the op): an invocation owns 8 (or 4) output channels × the taps of one
 * (input channel, kernel rows) pair and sums over the output positions of an image, a row
 * slice of one, or a group of small images; the partial sums are added by one more kernel.
 * WGSL generation and dispatch.
 *
 * @module
 */
import { type BufferWindow, gpu } from "../gpu.ts";
import { empty, type Tensor } from "../tensor.ts";
import type { ConvGeometry } from "./conv_ref.ts";
import { decls, grid, main1d, run, SOFTWARE_LOOP_LIMIT } from "./kernel.ts";
import { tileGrid, u32 } from "./matmul_spec.ts";
import { address } from "./texture_layout.ts";
import { type PlacedTexture, windowTexels } from "./conv_direct_kernels.ts";
import { hostHasAvx512 } from "../gpu_env.ts";

/**
 * Output channels per invocation of the weight-gradient kernel: 8, or 4 for a layer with at
 * most 4 input channels (a network's first: its few (column, channel tile) pairs an image
 * then make twice as many invocations, each with half the accumulators). Against 8 on all,
 * alternating rounds on an AVX2 EPYC, forward + backward: the scene CNN's conv1 (3 channels)
 * 306 → 253 and 242 → 210 ms in two runs, the Fashion-MNIST CNN's conv1 8.0 → 7.6 ms; with
 * 4 on every layer the scene CNN's conv2 was 245 → 261 ms (on an AVX-512 Xeon, 4 or 16 were
 * within ±5% of 8 on every layer). The lanes an image then differ, and with them how its
 * images are grouped into partial sums: the weight gradient changes by rounding only.
 */
const channelsPer = (C: number): number => forcedChannels ?? (C <= 4 ? 4 : 8);

let forcedChannels: 4 | 8 | null = null;

/**
 * The most taps (KH·KW) for which an invocation takes all kernel rows: 25 where the host has
 * AVX-512 (32 vector registers), else 9. On an AVX-512 EPYC (Zen 4), alternating rounds of
 * forward + backward, 5×5 layers with all 5 rows against one: the scene CNN's conv1 198 →
 * 146–149 ms, conv2 170 → 166–168 and 158 → 147–150, conv3 6.35 → 5.9–6.1 and 5.9 → 4.5, its
 * training step 905 → 810 ms (9 of 9 rounds); 4 or 8 channels alike. Not measured on an AVX2
 * host, which keeps the rule measured there (one row of a 5×5 kernel). The sums keep their
 * order; the images an invocation, and so the grouping of partial sums, may change.
 */
const allRowsTaps = (): number => forcedAllRows ?? (hostHasAvx512() ? 25 : 9);

let forcedAllRows: number | null = null;

/** Fixes that bound (tests run both; null: by processor). Returns the old setting. */
export function setDirectGradAllRows(taps: number | null): number | null {
  const old = forcedAllRows;
  forcedAllRows = taps;
  return old;
}

/** Fixes the channels an invocation (tests run both; null: per layer). Returns the old setting. */
export function setDirectGradChannels(n: 4 | 8 | null): 4 | 8 | null {
  const old = forcedChannels;
  forcedChannels = n;
  return old;
}

/**
 * Invocations a workgroup of the weight-gradient kernel: 64, or 16 for a layer with fewer than
 * 64 of them an image (its least per image). A grey-scale first layer then splits its rows into
 * 4 slices, not 14 (each slice ends in its partial sums' stores). Against 64, alternating
 * rounds (AVX-512 Xeon): Fashion-MNIST conv1 forward + backward 13–15% faster.
 */
const WG_SIZES = [16, 64];

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
  const TM = channelsPer(C);
  const K = C * KH * KW, R = K + 1, nt = windowTexels(KW);
  const OWG = Math.ceil((OW + gp.shift) / 4); // texels holding the output columns
  // Kernel rows per invocation: all of a small kernel's (the output gradient's texel then
  // serves KH·KW taps), one row of a larger one (register pressure).
  const RB = KH * KW <= allRowsTaps() ? KH : 1, blocks = KH / RB;
  const cols = C * blocks + 1, rowTiles = Math.ceil(M / TM);
  // A layer with few input channels has few (column, channel tile) pairs an image (the
  // first layer of a grey-scale network: 4): its output rows are then split into slices,
  // each an invocation with its own partial sums, so that an image has at least WG of them.
  const pairs = cols * rowTiles, WG = pairs >= WG_SIZES[1] ? WG_SIZES[1] : WG_SIZES[0];
  // The loops' trip count an image of `r` rows: r·OWG texel steps and r row steps, in each
  // branch (a vector whose lanes hold taps and the bias column runs both). Rows and images
  // an invocation keep the total within the software adapters' loop limit (kernel.ts): past
  // it the loops would stop early and leave partial sums (the scene CNN's first layer at
  // batch 16 summed 11 of its 16 images, and 5 in the vectors with the bias column).
  const perImage = (r: number) => 2 * r * (OWG + 1) + 1;
  const maxRows = Math.max(1, Math.floor((SOFTWARE_LOOP_LIMIT - 2) / 2 / (OWG + 1)));
  const rowsPer = Math.min(
    maxRows,
    pairs >= WG ? OH : Math.ceil(OH / Math.min(OH, Math.ceil(WG / pairs))),
  );
  const S = Math.ceil(OH / rowsPer), lanes = pairs * S;
  // Images an invocation: as many as keep `gradLanes` invocations in all, and the loops
  // within the limit.
  const maxImages = Math.floor((SOFTWARE_LOOP_LIMIT - 1) / perImage(rowsPer));
  const IB = S > 1 ? 1 : Math.max(1, Math.min(N, maxImages, Math.floor((N * lanes) / gradLanes)));
  const groups = Math.max(1, Math.floor(partialBytes / (S * M * R * 4)));
  const per = Math.min(N, groups * IB); // images a dispatch
  const direct = per >= N && Math.ceil(N / IB) * S === 1; // one partial: dw and db themselves
  const dw = empty([M, C, KH, KW]), db = empty([M]);
  const comp = ["x", "y", "z", "w"];
  const tex = "texture_storage_2d_array<rgba32float, read>";
  for (let n0 = 0; n0 < N; n0 += per) {
    const nb = Math.min(per, N - n0), Z = Math.ceil(nb / IB);
    const key = JSON.stringify([
      p,
      gt.place,
      gp,
      xin.place,
      rows,
      n0,
      nb,
      IB,
      partialBytes,
      TM,
      RB,
    ]);
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
        // Lane → (column, channel tile, row slice), the column fastest, so that a vector's
        // 8 lanes read one output-gradient texel when the columns are a multiple of 8. Else
        // the bias column's lanes, which take the other branch, come last: they fill vectors
        // of their own, and the other columns (C·KH/RB: a multiple of 8 for most layers)
        // keep a vector on one channel tile.
        const dataLanes = (cols - 1) * rowTiles * S;
        L.push(`  let lane = tx * ${u32(WG)} + lid.x;`);
        L.push(`  if (lane >= ${u32(lanes)}) { return; }`);
        if (cols % 8 === 0) {
          L.push(`  let col = lane % ${u32(cols)};`);
          L.push(`  let q = lane / ${u32(cols)};`);
        } else {
          L.push(`  let onBias = lane >= ${u32(dataLanes)};`);
          L.push(`  let li = select(lane, lane - ${u32(dataLanes)}, onBias);`);
          L.push(`  let col = select(li % ${u32(cols - 1)}, ${u32(cols - 1)}, onBias);`);
          L.push(`  let q = select(li / ${u32(cols - 1)}, li, onBias);`);
        }
        L.push(`  let rt = q % ${u32(rowTiles)};`);
        L.push(`  let sl = q / ${u32(rowTiles)};`);
        L.push(`  let oh0 = sl * ${u32(rowsPer)};`);
        L.push(`  let oh1 = min(oh0 + ${u32(rowsPer)}, ${u32(OH)});`);
        L.push(`  let m0 = rt * ${u32(TM)};`);
        // Rows of G for the TM channels within an image (clamped: rows past M are never stored).
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
        // Texel t of output row oh of channel m0 + i's output gradient.
        const gLoad = (i: number) =>
          `        let a${i} = textureLoad(G, vec2<u32>(t + ${u32(gp.t0)}, gb + gr${i} + oh), gl);`;
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
          L.push(gLoad(i));
          L.push(`        c${i}_0 = c${i}_0 + (a${i}.x + a${i}.y) + (a${i}.z + a${i}.w);`);
        }
        L.push(`      }`);
        L.push(`    }`);
        L.push(`  } else {`);
        L.push(`    for (var oh = oh0; oh < oh1; oh++) {`);
        L.push(`      for (var t = 0u; t < ${u32(OWG)}; t++) {`);
        for (let i = 0; i < TM; i++) L.push(gLoad(i));
        for (let r = 0; r < RB; r++) {
          for (let e = 0; e < nt; e++) {
            L.push(
              `        let b${r}_${e} = textureLoad(X, vec2<u32>(t + ${u32(e)}, xy + oh + ${
                u32(r)
              }), xl);`,
            );
          }
        }
        // Each accumulator's 4 taps back to back (q innermost): the same sums in the same
        // order as q outermost, with less spilling on lavapipe (docs/lavapipe_kernels.md).
        for (let k = 0; k < T; k++) {
          const r = Math.floor(k / KW);
          for (let i = 0; i < TM; i++) {
            for (let q = 0; q < 4; q++) {
              const e = q + (k % KW), b = `b${r}_${e >> 2}.${comp[e & 3]}`;
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
