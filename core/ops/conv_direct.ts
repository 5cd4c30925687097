/**
 * Direct convolution from textures for the software adapters (stride 1, dilation 1, one
 * group): the product kernels read the input image rows themselves, so there is no column
 * matrix at all — no im2col pass, no copy of it into a texture, no col2im.
 *
 * Why: on Mesa's software adapters the im2col route spent as long building and copying
 * the column matrix (KH·KW times the input) as the product took, and its input gradient
 * was a product with K = Cout (a few dozen), bound by its stores, then a gather.
 *
 * How: the input is packed once into an `rgba32float` texture of padded rows (zeros around
 * it): line (n, c, r) holds row r − PT of channel c of image n, texel t its columns
 * 4t − PL … 4t + 3 − PL. An invocation owns 8 output channels × 16 output positions (four
 * groups of 4 neighbouring positions of one output row; rows are padded to a multiple of 4
 * positions, so a group never straddles two). For each input channel and kernel row it
 * loads, per group, the ⌈(KW + 3)/4⌉ texels that hold the window of all KW taps of its 4
 * positions, and per tap two texels of the weights (stored transposed, 4 output channels a
 * texel): for a 5×5 kernel 18 loads per 640 multiply-adds, against the texture matmul's 16
 * per 256.
 *
 * - Forward: y = conv(x, w) + bias, ReLU fused.
 * - Input gradient: the same kernel on the output gradient padded by KH − 1 − PT (…),
 *   with the kernel rotated 180° and its channel axes swapped (stride 1 makes the
 *   transposed convolution a convolution).
 * - Weight gradient: per image, an invocation owns 8 output channels × the KW taps of one
 *   (input channel, kernel row) — of all kernel rows for kernels of up to 9 taps — and runs
 *   over all output positions, 4 at a time, reading the output gradient's texture and the
 *   input's; one extra column sums the bias gradient. A layer with few such invocations an
 *   image (a grey-scale first layer has 4) splits the output rows into slices, each with
 *   its own partial sums; a layer with many (small images) sums a group of images in one
 *   invocation's loop instead. The groups' (and slices') partial sums are then added into
 *   dW and db by one more kernel, or written there directly when there is only one.
 *
 * @module
 */
import { gpu } from "../gpu.ts";
import { isGradEnabled, record } from "../tape.ts";
import { empty, type Tensor } from "../tensor.ts";
import type { ConvGeometry } from "./conv_ref.ts";
import { decls, main1d } from "./kernel.ts";
import { u32 } from "./matmul_spec.ts";
import { place, stagePitch } from "./texture_layout.ts";
import { staged } from "./conv_texture.ts";
import { PAD_TEXELS, type PadDims, pooledPadCode, type PooledSource } from "./conv_direct_pool.ts";
import { directProduct, type PlacedTexture, windowTexels } from "./conv_direct_kernels.ts";
import { directWeightGrad } from "./conv_direct_grad.ts";

export { type DirectDims } from "./conv_direct_kernels.ts";
export { setDirectGradLanes, setDirectPartialBytes } from "./conv_direct_grad.ts";
export type { PlacedTexture };

let enabled = true;

/** Turns the direct kernels on or off (benchmarks compare them with im2col). Returns the old setting. */
export function setConvDirect(on: boolean): boolean {
  const old = enabled;
  enabled = on;
  return old;
}

/** Whether a texture of `lines` lines per image and `texels` a line fits the adapter. */
function fits(N: number, lines: number, texels: number): boolean {
  const g = gpu();
  const pl = place(N, lines, texels * 4, {
    maxDim: g.maxTextureDim,
    maxLayers: g.maxTextureLayers,
  });
  return !!pl && pl.perLayer > 0;
}

/** Whether the direct kernels handle this geometry (else the caller uses im2col). */
export function directApplies(p: ConvGeometry): boolean {
  const g = gpu();
  if (!enabled || g.variant !== "cpu") return false;
  if (p.G !== 1 || p.SH !== 1 || p.SW !== 1 || p.DH !== 1 || p.DW !== 1 || p.KW > 9) return false;
  const fwd = inputLayout(p, shareShift(p) ?? 0), bwd = gradLayout(p), max = g.maxTextureDim;
  return fits(p.N, p.C * fwd.rows, fwd.texels) && fits(p.N, p.Cout * bwd.rows, bwd.texels) &&
    fits(p.N, p.Cout * p.OH, Math.ceil(p.OW / 4)) && p.C * p.KH * p.KW <= max &&
    p.Cout * p.KH * p.KW <= max && Math.ceil(Math.max(p.C, p.Cout) / 4) <= max;
}

/** A padded-row texture's layout (`PadDims`) and the source's rows and columns. */
type SourcePad = PadDims & { H: number; W: number };

/**
 * The packing kernels' invocation decode: piece `tg` (`U` texels from texel tg·U) of line
 * (n·C + c, r), the source row it holds (`sr`, `rowOk`), that row's first float
 * (`rowBase`, clamped to row 0 past the edges) and the piece's first staged texel (`dst`).
 */
function lineHead(d: SourcePad, U: number, TG: number, pitch: number): string {
  return `  let tg = i % ${u32(TG)};
  let line = i / ${u32(TG)};
  let r = line % ${u32(d.rows)};
  let nc = line / ${u32(d.rows)};
  let sr = i32(r) - ${d.pt};
  let rowOk = sr >= 0 && sr < ${d.H};
  let rowBase = (nc * ${u32(d.H)} + u32(max(sr, 0))) * ${u32(d.W)};
  let dst = line * ${u32(pitch)} + tg * ${u32(U)};`;
}

/**
 * Packs src [N][C][H][W] (times the mask `mask > 0` when given) into a texture of `rows`
 * padded rows per channel and `texels` texels per row: line (n, c, r), texel t holds
 * src[n][c][r − pt][4t − pl … 4t + 3 − pl], zero outside src. With `pooled`, src is read
 * through the max pool's backward (see `PooledSource`).
 */
export function padTexture(
  src: Tensor,
  mask: Tensor | null,
  d: SourcePad,
  pooled: PooledSource | null = null,
): PlacedTexture | null {
  const g = gpu();
  const pl = place(d.N, d.C * d.rows, d.texels * 4, {
    maxDim: g.maxTextureDim,
    maxLayers: g.maxTextureLayers,
  });
  if (!pl || pl.perLayer === 0) return null;
  const tex = g.acquireTexture(pl.size.width, pl.size.height, pl.size.layers);
  if (pooled) {
    const k = pooledPadCode(d, pooled, !!mask, stagePitch(pl));
    // The pooled gradient and output through textures (not the i32 winners).
    const reads = ["s", mask ? "m" : null];
    staged(k.code, [src, ...(mask ? [mask] : []), pooled.am], k.n, pl, tex, reads, true);
    return { tex, place: pl };
  }
  // PAD_TEXELS neighbouring texels of one line an invocation.
  const U = Math.min(d.texels, PAD_TEXELS), TG = Math.ceil(d.texels / U);
  const n = d.N * d.C * d.rows * TG;
  const aligned = d.pl % 4 === 0 && d.W % 4 === 0;
  if (!aligned && src.size % 4 === 0 && (!mask || mask.size % 4 === 0)) {
    const code = shiftedPadCode(d, !!mask, U, TG, src.size / 4, stagePitch(pl));
    staged(code, mask ? [src, mask] : [src], n, pl, tex, ["ws", mask ? "ms" : null]);
    return { tex, place: pl };
  }
  // Source columns 4t − pl … 4t + 3 − pl: one aligned vec4 load a texel, or (a source whose
  // size is not a multiple of 4) scalar loads.
  const V = aligned ? 4 : 1;
  const ty = V === 1 ? "f32" : `vec${V}<f32>`;
  const piece = (q: number) => {
    const idx = `(rowBase + u32(sc${q}))${V > 1 ? ` / ${u32(V)}` : ""}`;
    const v = mask ? `select(${ty}(0.0), s[${idx}], m[${idx}] > ${ty}(0.0))` : `s[${idx}]`;
    const set = V === 1 ? `v[${q}] = ${v};` : `v = ${v};`;
    return `    let sc${q} = i32(t * 4u + ${u32(q)}) - ${d.pl};
    if (rowOk && sc${q} >= 0 && sc${q} < ${d.W}) { ${set} }`;
  };
  const texel = (u: number) =>
    `  {
    let t = tg * ${u32(U)} + ${u32(u)};
    var v = vec4<f32>(0.0);
${[0, 1, 2, 3].filter((q) => q % V === 0).map(piece).join("\n")}
    ${
      u > 0 && d.texels % U
        ? `if (t < ${u32(d.texels)}) { D[dst + ${u32(u)}] = v; }`
        : `D[dst + ${u32(u)}] = v;`
    }
  }`;
  const code = `${decls(mask ? ["s", "m"] : ["s"], 0, ty)}
@group(0) @binding(${mask ? 2 : 1}) var<storage, read_write> D: array<vec4<f32>>;
${main1d(n)}
${lineHead(d, U, TG, stagePitch(pl))}
${[...Array(U).keys()].map(texel).join("\n")}
}`;
  // (Scalar loads only where the source's size is not a multiple of 4: no flat texture.)
  staged(code, mask ? [src, mask] : [src], n, pl, tex, V === 4 ? ["s", mask ? "m" : null] : []);
  return { tex, place: pl };
}

/**
 * `padTexture`'s kernel when a line's texels do not start at aligned source floats (a
 * padding or a row length that is not a multiple of 4: VGG16's and the Fashion-MNIST CNN's
 * padding of 1, rows of 150 or 75): the U texels of an invocation come from U + 1 aligned
 * vec4 loads, shifted by the line's offset into them, instead of 4 scalar loads a texel
 * (each a gather on the software adapters). Components outside the source row — the
 * padding, or a neighbouring row's floats in a shared vec4 — are zeroed.
 */
function shiftedPadCode(
  d: SourcePad,
  mask: boolean,
  U: number,
  TG: number,
  n4: number,
  pitch: number,
): string {
  const vecs = (name: string) =>
    [...Array(U + 1).keys()].map((j) =>
      `  let ${name}${j} = ${name}s[u32(clamp(k0 + ${j}, 0, ${n4 - 1}))];`
    ).join("\n");
  // Floats sh … sh + 3 of lo, hi (sh = 0 … 3, the same for all of a line).
  const shift = (lo: string, hi: string) =>
    `select(select(select(${lo}, vec4<f32>(${lo}.yzw, ${hi}.x), sh == 1), ` +
    `vec4<f32>(${lo}.zw, ${hi}.xy), sh == 2), vec4<f32>(${lo}.w, ${hi}.xyz), sh == 3)`;
  const texel = (u: number) => {
    const val = shift(`w${u}`, `w${u + 1}`);
    const keep = mask ? ` & ${shift(`m${u}`, `m${u + 1}`)} > vec4<f32>(0.0)` : "";
    const st = `D[dst + ${u32(u)}] = select(vec4<f32>(0.0), ${val}, ok${keep});`;
    return `  {
    let cb = vec4<i32>(${4 * u} + c0) + vec4<i32>(0, 1, 2, 3);
    let ok = vec4<bool>(rowOk) & cb >= vec4<i32>(0) & cb < vec4<i32>(${d.W});
    ${u > 0 && d.texels % U ? `if (tg * ${u32(U)} + ${u32(u)} < ${u32(d.texels)}) { ${st} }` : st}
  }`;
  };
  const n = d.N * d.C * d.rows * TG;
  return `@group(0) @binding(0) var<storage, read> ws: array<vec4<f32>>;
${mask ? "@group(0) @binding(1) var<storage, read> ms: array<vec4<f32>>;\n" : ""}\
@group(0) @binding(${mask ? 2 : 1}) var<storage, read_write> D: array<vec4<f32>>;
${main1d(n)}
${lineHead(d, U, TG, pitch)}
  // The piece's first source column, and its float in the source: 4·k0 + sh.
  let c0 = i32(tg * ${u32(4 * U)}) - ${d.pl};
  let a0 = i32(rowBase) + c0;
  let k0 = a0 >> 2u;
  let sh = a0 & 3;
${vecs("w")}
${mask ? vecs("m") : ""}
${[...Array(U).keys()].map(texel).join("\n")}
}`;
}

/**
 * The weights as the product kernel reads them: line k = (c·KH + ky)·KW + kx, texel m/4
 * holds 4 output channels. `flip`: for the input gradient, the rows index the forward's
 * output channels, the columns its input channels, and the kernel is rotated 180°.
 */
export function weightTexture(w: Tensor, p: ConvGeometry, flip: boolean): PlacedTexture {
  const g = gpu();
  const [rowsC, cols] = flip ? [p.Cout, p.C] : [p.C, p.Cout];
  const K = rowsC * p.KH * p.KW;
  const pl = place(1, K, cols, { maxDim: g.maxTextureDim, maxLayers: g.maxTextureLayers })!;
  const T = pl.texels, n = K * T, khw = p.KH * p.KW;
  // Source index of w[co][ci][ky][kx] for output column m and line k.
  const srcIdx = flip
    ? `(c * ${u32(p.C)} + m) * ${u32(khw)} + ${u32(khw - 1)} - tap`
    : `(m * ${u32(p.C)} + c) * ${u32(khw)} + tap`;
  const code = `${decls(["w"], 0)}
@group(0) @binding(1) var<storage, read_write> D: array<vec4<f32>>;
${main1d(n)}
  let t = i % ${u32(T)};
  let k = i / ${u32(T)};
  let c = k / ${u32(khw)};
  let tap = k % ${u32(khw)};
  var v = vec4<f32>(0.0);
  for (var q = 0u; q < 4u; q++) {
    let m = t * 4u + q;
    if (m < ${u32(cols)}) { v[q] = w[${srcIdx}]; }
  }
  D[k * ${u32(stagePitch(pl))} + t] = v;
}`;
  const tex = g.acquireTexture(pl.size.width, pl.size.height, pl.size.layers);
  staged(code, [w], n, pl, tex);
  return { tex, place: pl };
}

/**
 * The input texture's layout for the forward product with its windows `shift` columns into
 * their texels, wide enough for the weight gradient's windows too.
 */
export function inputLayout(p: ConvGeometry, shift: number): { rows: number; texels: number } {
  const fwd = Math.ceil(p.OW / 4) - 1 + windowTexels(p.KW + shift);
  const grad = Math.ceil((p.OW + shift) / 4) - 1 + windowTexels(p.KW);
  return { rows: p.OH + p.KH - 1, texels: Math.max(fwd, grad) };
}

/** The same for the output gradient padded for the input-gradient product. */
function gradLayout(p: ConvGeometry): { rows: number; texels: number } {
  const own = Math.ceil(p.W / 4) - 1 + windowTexels(p.KW);
  // The weight gradient reads output columns 0 … OW − 1 from it too: texels up to ⌈(pl + OW)/4⌉.
  const pl = Math.max(0, p.KW - 1 - p.PL);
  return { rows: p.H + p.KH - 1, texels: Math.max(own, Math.ceil((pl + p.OW) / 4)) };
}

/**
 * The shift that lets the weight gradient read the output gradient from the input
 * gradient's padded texture (padded by KW − 1 − PL columns, so output column ow sits in
 * component (ow + pl) mod 4): the forward's input texture is padded by pl mod 4 columns more,
 * which puts the input columns of both products' windows in the same components. Null when
 * that would widen the forward's windows by a texel (then the weight gradient packs the
 * output gradient again, unpadded) or the padding passes the kernel.
 */
function shareShift(p: ConvGeometry): number | null {
  const pl = p.KW - 1 - p.PL, pt = p.KH - 1 - p.PT;
  if (pl < 0 || pt < 0) return null;
  return windowTexels(p.KW + (pl % 4)) === windowTexels(p.KW) ? pl % 4 : null;
}

/**
 * conv2d through the direct kernels (the caller checked `directApplies`): x [N][C][H][W],
 * w [Cout][C][KH][KW], a tied bias [Cout] or none, optional fused ReLU, and with `pool` a
 * fused 2×2 stride-2 max pool (floor mode; OH, OW ≥ 2): the output is then the pooled
 * [N][Cout][⌊OH/2⌋][⌊OW/2⌋], and the full-size output is never written.
 */
export function conv2dDirect(
  x: Tensor,
  w: Tensor,
  bias: Tensor | null,
  p: ConvGeometry,
  relu: boolean,
  pool = false,
): Tensor {
  const g = gpu();
  const { N, C, H, W, Cout, OH, OW, KH, KW, PT, PL } = p;
  const keepX = isGradEnabled() && (w.requiresGrad || !!bias?.requiresGrad);
  const need = { x: x.requiresGrad, w: w.requiresGrad, b: !!bias?.requiresGrad };
  // Both gradients from one padded output gradient, when the shift is free.
  const share = keepX && need.x ? shareShift(p) : null;
  const shift = share ?? 0;
  const fl = inputLayout(p, shift);
  const xin = padTexture(x, null, { N, C, H, W, ...fl, pt: PT, pl: PL + shift })!;
  const wt = weightTexture(w, p, false);
  const OHp = Math.floor(OH / 2), OWp = Math.floor(OW / 2);
  const y = empty(pool ? [N, Cout, OHp, OWp] : [N, Cout, OH, OW]);
  const wantGrad = isGradEnabled() && (need.x || need.w || need.b);
  const am = pool && wantGrad ? empty(y.shape) : null; // i32 winners
  const dims = {
    N,
    C,
    M: Cout,
    OH,
    OW,
    KH,
    KW,
    rows: fl.rows,
    shift,
    data: { pt: PT, h: H, pl: PL + shift, w: W },
  };
  directProduct(xin, wt, bias, y, dims, relu, pool ? { am } : null);
  g.releaseTexture(wt.tex);
  if (!keepX) g.releaseTexture(xin.tex);
  const inputs = bias ? [x, w, bias] : [x, w];
  const extra = [...(relu ? [y] : []), ...(am ? [am] : [])];
  const out = record(
    pool ? (relu ? "conv2d_relu_maxpool" : "conv2d_maxpool") : relu ? "conv2d_relu" : "conv2d",
    y,
    inputs,
    (gy, saved) => {
      const sw = saved[1], sy = relu ? saved[inputs.length] : null;
      const src = am ? { am: saved[saved.length - 1], OHp, OWp } : null;
      let dx: Tensor | null = null, dw: Tensor | null = null, db: Tensor | null = null;
      const bl = gradLayout(p);
      let gin: PlacedTexture | null = null;
      if (need.x) {
        gin = padTexture(gy, sy, {
          N,
          C: Cout,
          H: OH,
          W: OW,
          ...bl,
          pt: KH - 1 - PT,
          pl: KW - 1 - PL,
        }, src)!;
        const wf = weightTexture(sw, p, true);
        dx = empty([N, C, H, W]);
        directProduct(
          gin,
          wf,
          null,
          dx,
          {
            N,
            C: Cout,
            M: C,
            OH: H,
            OW: W,
            KH,
            KW,
            rows: bl.rows,
            data: { pt: KH - 1 - PT, h: OH, pl: KW - 1 - PL, w: OW },
          },
          false,
        );
        g.releaseTexture(wf.tex);
      }
      if (need.w || need.b) {
        const pl = KW - 1 - PL;
        const [gt, gp] = gin && share !== null
          ? [gin, { rows: bl.rows, pt: KH - 1 - PT, t0: (pl - share) / 4, shift: share }]
          : [
            padTexture(gy, sy, {
              N,
              C: Cout,
              H: OH,
              W: OW,
              rows: OH,
              texels: Math.ceil(OW / 4),
              pt: 0,
              pl: 0,
            }, src)!,
            { rows: OH, pt: 0, t0: 0, shift: 0 },
          ];
        const grads = directWeightGrad(gt, gp, xin, p, fl.rows);
        if (gt !== gin) g.releaseTexture(gt.tex);
        if (need.w) dw = grads.dw;
        else grads.dw.dispose();
        if (need.b) db = grads.db;
        else grads.db.dispose();
      }
      if (gin) g.releaseTexture(gin.tex);
      return bias ? [dx, dw, db] : [dx, dw];
    },
    extra,
    keepX ? () => g.releaseTexture(xin.tex) : undefined,
  );
  am?.dispose(); // record() keeps its own reference
  return out;
}
