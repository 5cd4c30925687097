/**
 * 2-D convolution (NCHW input, PyTorch weight layout [out, in/groups, kh, kw]) with kernel
 * size, stride, padding (incl. "same"), dilation and groups; a tied bias [out] fused into
 * the product, an untied bias [out, oh, ow] as an option; optional fused ReLU. Forward,
 * and backward for input, weight and bias, side by side.
 *
 * How: on software adapters, stride-1 ungrouped convolutions (all of the bundled networks'
 * and VGG16's) take the direct texture kernels of `conv_direct.ts`, which need no column
 * matrix — or, when no gradient is recorded and a 3×3 layer has 64+ channels, Winograd
 * F(6×6) or F(4×4, 3×3) (`conv_winograd.ts`). Everything else: im2col + the tuned matmul of
 * `matmul_wgsl.ts`, in chunks of images so the column matrix stays within one storage binding
 * (and a bounded amount of memory).
 *
 * - The weight is packed per forward into Wp [G][Cout/G][Kp]: each row is the group's
 *   Kg = Cin/G·kh·kw weights, then the bias, then zeros up to Kp (a multiple of 4, so the
 *   matmul reads vec4). The column matrix Col [n][G][Kp][OH·OW] has a matching row of
 *   ones, so one product Wp·Col gives conv + bias (and ReLU in its epilogue).
 * - dX: ColGrad = Wpᵀ·dY per image and group (one batched product), then col2im as a
 *   gather (each input element sums the ≤ kh·kw column entries that read it; no atomics).
 *   This is the transposed convolution with the 180°-rotated kernel, without zero-stuffing.
 * - dW and db: dY·Colᵀ per image and group (batched), summed over images; the bias
 *   gradient falls out of the ones row of Col as column Kg of the packed gradient.
 *
 * Measured on lavapipe (bench/conv.ts, same run): the implicit GEMM of `conv_implicit.ts`
 * (taps gathered in the inner loop, no column matrix) reached 0.51–0.76× the speed of
 * im2col + matmul on all five benchmark layers, because the matmul reads both operands as
 * vec4 while the gather needs one scalar load per tap. So every adapter uses im2col; on
 * real GPUs (`gpu().variant === "gpu"`) the product is the shared-memory tiled kernel.
 * The implicit kernel stays for re-measuring on other adapters.
 *
 * @module
 */
import { isGradEnabled, record } from "../tape.ts";
import { type Binding, gpu } from "../gpu.ts";
import { empty, type Tensor } from "../tensor.ts";
import { add, relu as reluOp } from "./elementwise.ts";
import { elementwise } from "./raw.ts";
import { decls, fitsBinding, grid, main1d, run } from "./kernel.ts";
import type { MatmulSpec } from "./matmul_wgsl.ts";
import { gemmInto, texturePlanFor } from "./matmul.ts";
import { samePlacement } from "./matmul_texture.ts";
import {
  im2colTexture,
  type InputTexture,
  inputTexture,
  packGradTexture,
  textureFor,
} from "./conv_texture.ts";
import { stridedCopy } from "./shape.ts";
import { conv2dDirect, directApplies } from "./conv_direct.ts";
import { sumParts } from "./conv_direct_grad.ts";
import { conv2dWinograd, winogradApplies } from "./conv_winograd.ts";
import { type ConvGeometry, convGeometry, type ConvOptions } from "./conv_ref.ts";

export {
  type ConvGeometry,
  convGeometry,
  type ConvOptions,
  convOutputShape,
  type Padding,
  type Pair,
} from "./conv_ref.ts";

/** Options of `conv2d`. */
export interface Conv2dOpOptions extends ConvOptions {
  /** Apply ReLU to the result, fused into the product's epilogue (default false). */
  relu?: boolean;
}

/** Bytes one chunk's column matrix may take (also capped by the adapter's binding size). */
let chunkBytes = 64 * 2 ** 20;

/** Sets the column-matrix budget per chunk (tests use it to exercise chunking). Returns the old one. */
export function setConvChunkBytes(bytes: number): number {
  const old = chunkBytes;
  chunkBytes = bytes;
  return old;
}

/** Derived sizes of the im2col formulation. */
interface Plan extends ConvGeometry {
  /** Kernel taps per group: Cg·KH·KW. */
  Kg: number;
  /** Packed row length: Kg (+1 bias) rounded up to a multiple of 4. */
  Kp: number;
  /** Whether the packed rows carry a bias column (and Col a ones row). */
  hasBias: boolean;
  /** Output positions per image. */
  P: number;
  /** Images per chunk (every chunk but maybe the last). */
  nc: number;
}

function planOf(geo: ConvGeometry, hasBias: boolean): Plan {
  const Kg = geo.Cg * geo.KH * geo.KW;
  const Kp = Math.ceil((Kg + (hasBias ? 1 : 0)) / 4) * 4;
  const P = geo.OH * geo.OW;
  const perImage = geo.G * Kp * P * 4;
  const budget = Math.min(chunkBytes, gpu().maxBindingBytes);
  if (perImage > gpu().maxBindingBytes) {
    throw new Error(
      `conv2d: one image's column matrix (${perImage} bytes) exceeds a storage binding ` +
        `(${gpu().maxBindingBytes}); this layer is too large for im2col`,
    );
  }
  const most = Math.max(1, Math.floor(budget / perImage));
  const chunks = Math.ceil(geo.N / most);
  const nc = Math.ceil(geo.N / chunks);
  return { ...geo, Kg, Kp, hasBias, P, nc };
}

// ---- kernels ----------------------------------------------------------------------

/** Wp[c][co][kp] = w[co][kp] | bias[co] | 0, repeated `copies` times. */
function packWeights(w: Tensor, bias: Tensor | null, p: Plan, copies: number): Tensor {
  const n = copies * p.Cout * p.Kp;
  const wp = empty([copies, p.Cout, p.Kp]);
  const code = `${decls(bias ? ["w", "b", "wp"] : ["w", "wp"])}
${main1d(n)}
  let kp = i % ${p.Kp}u;
  let co = (i / ${p.Kp}u) % ${p.Cout}u;
  var v = 0.0;
  if (kp < ${p.Kg}u) { v = w[co * ${p.Kg}u + kp]; }${
    bias ? `\n  else if (kp == ${p.Kg}u) { v = b[co]; }` : ""
  }
  wp[i] = v;
}`;
  run(code, bias ? [w, bias, wp] : [w, wp], grid(n));
  return wp;
}

/**
 * Col[nl][g][kp][p] for images n0 … n0 + nc − 1 of x. When OH·OW is a multiple of 4 each
 * invocation fills 4 neighbouring positions with one vec4 store, sharing the tap decode.
 */
function im2col(x: Tensor, p: Plan, n0: number, nc: number): Tensor {
  const { P, Kp, Kg, G, Cg, C, H, W, KH, KW, OW, SH, SW, DH, DW, PT, PL } = p;
  const V = P % 4 === 0 ? 4 : 1;
  const n = (nc * G * Kp * P) / V;
  const col = empty([nc * G, Kp, P]);
  const load = (j: number) => `
    {
      let q = q0 + ${j}u;
      let ih = i32(q / ${OW}u) * ${SH} + ky;
      let iw = i32(q % ${OW}u) * ${SW} + kx;
      if (ih >= 0 && ih < ${H} && iw >= 0 && iw < ${W}) {
        v[${j}] = x[xb + u32(ih) * ${W}u + u32(iw)];
      }
    }`;
  const code = `@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> col: array<${V === 4 ? "vec4<f32>" : "f32"}>;
${main1d(n)}
  let q0 = (i % ${P / V}u) * ${V}u;
  let kp = (i / ${P / V}u) % ${Kp}u;
  let b = i / ${(Kp * P) / V}u;
  var v = array<f32, ${V}>();
  if (kp < ${Kg}u) {
    let ci = (b % ${G}u) * ${Cg}u + kp / ${KH * KW}u;
    let r = kp % ${KH * KW}u;
    let ky = i32(r / ${KW}u) * ${DH} - ${PT};
    let kx = i32(r % ${KW}u) * ${DW} - ${PL};
    let xb = (${n0}u + b / ${G}u) * ${C * H * W}u + ci * ${H * W}u;
    ${Array.from({ length: V }, (_, j) => load(j)).join("")}
  }${
    p.hasBias
      ? ` else if (kp == ${Kg}u) { v = array<f32, ${V}>(${Array(V).fill("1.0").join(", ")}); }`
      : ""
  }
  col[i] = ${V === 4 ? "vec4<f32>(v[0], v[1], v[2], v[3])" : "v[0]"};
}`;
  run(code, [x, col], grid(n));
  return col;
}

/** dX for images n0 … n0 + nc − 1 from ColGrad [nc·G][Kp][P] (a gather: no atomics). */
function col2im(colg: Tensor, dx: Tensor, p: Plan, n0: number, nc: number): void {
  const { P, Kp, G, Cg, C, H, W, KH, KW, OH, OW, SH, SW, DH, DW, PT, PL } = p;
  const n = nc * C * H * W;
  const code = `${decls(["colg", "dx"])}
${main1d(n)}
  let iw = i32(i % ${W}u);
  let ih = i32((i / ${W}u) % ${H}u);
  let ci = (i / ${H * W}u) % ${C}u;
  let nl = i / ${C * H * W}u;
  let base = ((nl * ${G}u + ci / ${Cg}u) * ${Kp}u + (ci % ${Cg}u) * ${KH * KW}u) * ${P}u;
  var acc = 0.0;
  for (var ky = 0; ky < ${KH}; ky++) {
    let th = ih + ${PT} - ky * ${DH};
    if (th < 0 || th % ${SH} != 0 || th / ${SH} >= ${OH}) { continue; }
    let rowOff = base + u32(ky * ${KW}) * ${P}u + u32(th / ${SH}) * ${OW}u;
    for (var kx = 0; kx < ${KW}; kx++) {
      let tw = iw + ${PL} - kx * ${DW};
      if (tw < 0 || tw % ${SW} != 0 || tw / ${SW} >= ${OW}) { continue; }
      acc = acc + colg[rowOff + u32(kx) * ${P}u + u32(tw / ${SW})];
    }
  }
  dx[${n0 * C * H * W}u + i] = acc;
}`;
  run(code, [colg, dx], grid(n));
}

/** A binding of elements [start, start + count) of t, or null when the offset is unaligned. */
function windowOf(t: Tensor, start: number, count: number): Binding | null {
  if (start === 0 && count === t.size) return t.buffer;
  const offset = start * 4;
  if (offset % gpu().offsetAlign !== 0) return null;
  return { buffer: t.buffer, offset, size: Math.max(4, count * 4) };
}

/** Elements [start, start + count) of t as something bindable (a window or a copy). */
function readRange(
  t: Tensor,
  start: number,
  count: number,
): { bind: Binding | Tensor; tmp?: Tensor } {
  const w = windowOf(t, start, count);
  if (w) return { bind: w };
  const tmp = empty([count]);
  gpu().copy(t.buffer, start * 4, tmp.buffer, 0, count * 4);
  return { bind: tmp, tmp };
}

// ---- the op ------------------------------------------------------------------------

/**
 * conv2d (tied or no bias, optional ReLU) followed by a 2×2 stride-2 max pool (floor mode)
 * as one op, when the direct kernels take the convolution (the product's epilogue pools,
 * and the backward packs the output gradient from the pooled one and the saved winners) or,
 * with no gradient to record, Winograd (its output transform pools): the full-size output
 * is never written. Null when it does not apply (the caller then runs
 * the convolution and the pool on their own); otherwise equal to `maxPool2d(conv2d(…), {
 * kernel: 2 })`, gradients included.
 *
 * @example
 * const y = conv2dMaxPool2(x, w, b, { padding: 1, relu: true }) ??
 *   maxPool2d(conv2d(x, w, b, { padding: 1, relu: true }), { kernel: 2 });
 */
export function conv2dMaxPool2(
  x: Tensor,
  w: Tensor,
  bias: Tensor | null,
  opts: Conv2dOpOptions = {},
): Tensor | null {
  if (x.shape.length !== 4 || w.shape.length !== 4 || (bias && bias.shape.length !== 1)) {
    return null;
  }
  const geo = convGeometry(x.shape, w.shape, opts);
  if (bias && bias.size !== geo.Cout) return null;
  const wantGrad = isGradEnabled() && (x.requiresGrad || w.requiresGrad || !!bias?.requiresGrad);
  if (geo.OH < 2 || geo.OW < 2) return null;
  if (winogradApplies(geo, wantGrad)) return conv2dWinograd(x, w, bias, geo, !!opts.relu, true);
  if (!directApplies(geo)) return null;
  return conv2dDirect(x, w, bias, geo, !!opts.relu, true);
}

/**
 * 2-D convolution of x [N, C, H, W] with w [Cout, C/groups, KH, KW], plus a bias that is
 * tied ([Cout], one per filter) or untied ([Cout, OH, OW], one per output location).
 * The output is [N, Cout, OH, OW] with OH = floor((H + pads − dh·(KH−1) − 1) / sh) + 1.
 *
 * @example
 * const y = conv2d(x, w, b, { padding: 1 });              // 3×3, "same" size
 * const z = conv2d(x, w, null, { stride: 2, dilation: 2, groups: 4, relu: true });
 */
export function conv2d(
  x: Tensor,
  w: Tensor,
  bias?: Tensor | null,
  opts: Conv2dOpOptions = {},
): Tensor {
  const geo = convGeometry(x.shape, w.shape, opts);
  if (bias && bias.shape.length === 3) {
    const want = [geo.Cout, geo.OH, geo.OW];
    if (!bias.shape.every((d, k) => d === want[k])) {
      throw new Error(`conv2d: untied bias [${bias.shape}] must be [${want}]`);
    }
    const y = conv2d(x, w, null, { ...opts, relu: false });
    const z = add(y, bias);
    return opts.relu ? reluOp(z) : z;
  }
  if (bias && (bias.shape.length !== 1 || bias.size !== geo.Cout)) {
    throw new Error(
      `conv2d: bias [${bias.shape}] must be [${geo.Cout}] (tied) or ` +
        `[${geo.Cout},${geo.OH},${geo.OW}] (untied)`,
    );
  }
  const relu = !!opts.relu;
  const wantGrad = isGradEnabled() && (x.requiresGrad || w.requiresGrad || !!bias?.requiresGrad);
  if (winogradApplies(geo, wantGrad)) return conv2dWinograd(x, w, bias ?? null, geo, relu);
  if (directApplies(geo)) return conv2dDirect(x, w, bias ?? null, geo, relu);
  const p = planOf(geo, !!bias);
  fitsBinding("conv2d input", x.bytes);
  const y = empty([p.N, p.Cout, p.OH, p.OW]);
  fitsBinding("conv2d output", y.bytes);
  const copies = p.G > 1 ? p.nc : 1;
  const wp = packWeights(w, bias ?? null, p, copies);
  const perOut = p.Cout * p.P;
  const wantCol = isGradEnabled() && (w.requiresGrad || !!bias?.requiresGrad);
  // Keep the column matrix for the weight gradient instead of rebuilding it: as the
  // texture the software adapters' matmul reads (when the whole batch's fit the budget),
  // else as a buffer when there is one chunk.
  const keepTex = wantCol && p.N * p.G * p.Kp * Math.ceil(p.P / 4) * 16 <= KEEP_TEXTURE_BYTES;
  const keepCol = p.nc >= p.N && wantCol;
  let saveCol: Tensor | null = null;
  const saveTex: (GPUTexture | null)[] = [];
  let xt: InputTexture | null | undefined;
  for (let n0 = 0; n0 < p.N; n0 += p.nc) {
    const nc = Math.min(p.nc, p.N - n0);
    const win = windowOf(y, n0 * perOut, nc * perOut);
    const dst = win ?? empty([nc * perOut]);
    const spec = forwardSpec(p, nc, relu);
    const plan = texturePlanFor(spec);
    if (plan) {
      const tex = textureFor(plan.b.size);
      if (xt === undefined) xt = inputTexture(x, p);
      im2colTexture(x, p, n0, nc, plan.b.place, tex, xt);
      gemmInto(wp, null, dst, spec, undefined, { b: tex });
      if (keepTex) saveTex.push(tex);
      else gpu().releaseTexture(tex);
    } else {
      const col = im2col(x, p, n0, nc);
      gemmInto(wp, col, dst, spec);
      if (keepTex) saveTex.push(null); // one entry per chunk
      if (keepCol) saveCol = col;
      else col.dispose();
    }
    if (!win) {
      gpu().copy((dst as Tensor).buffer, 0, y.buffer, n0 * perOut * 4, nc * perOut * 4);
      (dst as Tensor).dispose();
    }
  }
  if (xt) gpu().releaseTexture(xt.tex);
  const inputs = bias ? [x, w, bias] : [x, w];
  const extra = [wp, ...(saveCol ? [saveCol] : []), ...(relu ? [y] : [])];
  const releaseTex = () => {
    for (const t of saveTex) if (t) gpu().releaseTexture(t);
    saveTex.length = 0;
  };
  const out = record(
    relu ? "conv2d_relu" : "conv2d",
    y,
    inputs,
    (g, saved) => {
      const [sx] = saved;
      const [swp, scol] = [saved[inputs.length], saveCol ? saved[inputs.length + 1] : null];
      const sy = relu ? saved[saved.length - 1] : null;
      const need = { x: x.requiresGrad, w: w.requiresGrad, b: !!bias?.requiresGrad };
      return convBackward(g, sy, sx, swp, scol, saveTex, p, need);
    },
    extra,
    releaseTex,
  );
  wp.dispose();
  saveCol?.dispose();
  return out;
}

/** Column textures kept for the backward, at most this many bytes per conv. */
const KEEP_TEXTURE_BYTES = 256 * 2 ** 20;

type Spec = Omit<MatmulSpec, "variant">;

/** Forward product of a chunk: Y[b] = Wp · Col[b] (+ ReLU). */
function forwardSpec(p: Plan, nc: number, relu: boolean): Spec {
  return {
    batch: nc * p.G,
    M: p.CoutG,
    N: p.P,
    K: p.Kp,
    transA: false,
    transB: false,
    aBatchStride: p.G > 1 ? p.CoutG * p.Kp : 0,
    bBatchStride: p.Kp * p.P,
    bias: false,
    relu,
  };
}

/** Weight-gradient product of a chunk: dWp[b] = dY[b] · Col[b]ᵀ. */
function weightSpec(p: Plan, nc: number): Spec {
  return {
    batch: nc * p.G,
    M: p.CoutG,
    N: p.Kp,
    K: p.P,
    transA: false,
    transB: true,
    aBatchStride: p.CoutG * p.P,
    bBatchStride: p.Kp * p.P,
    bias: false,
    relu: false,
  };
}

/** Input-gradient product of a chunk: ColGrad[b] = Wpᵀ · dY[b]. */
function inputSpec(p: Plan, nc: number): Spec {
  return {
    batch: nc * p.G,
    M: p.Kp,
    N: p.P,
    K: p.CoutG,
    transA: true,
    transB: false,
    aBatchStride: p.G > 1 ? p.CoutG * p.Kp : 0,
    bBatchStride: p.CoutG * p.P,
    bias: false,
    relu: false,
  };
}

/**
 * Gradients [dx, dw, db] of a conv from the output gradient g (masked by y > 0 when the
 * conv fused a ReLU: `y` is its output). On the software adapters the gradient is packed
 * once per chunk into the texture both products read; the forward's column textures
 * (`savedTex`, one per chunk) or a fresh im2col into a texture feed dW.
 */
function convBackward(
  g: Tensor,
  y: Tensor | null,
  x: Tensor,
  wp: Tensor,
  savedCol: Tensor | null,
  savedTex: (GPUTexture | null)[],
  p: Plan,
  need: { x: boolean; w: boolean; b: boolean },
): (Tensor | null)[] {
  const perOut = p.Cout * p.P;
  const dx = need.x ? empty([p.N, p.C, p.H, p.W]) : null;
  const dwp = need.w || need.b ? empty([p.Cout, p.Kp]) : null;
  let masked = null as Tensor | null;
  const gy = () => masked ??= y ? elementwise("select(0.0, g, y > 0.0)", { g, y }, g.shape) : g;
  let xt: InputTexture | null | undefined;
  for (let n0 = 0, k = 0; n0 < p.N; n0 += p.nc, k++) {
    const nc = Math.min(p.nc, p.N - n0);
    const ws = weightSpec(p, nc), xs = inputSpec(p, nc);
    const pw = dwp ? texturePlanFor(ws) : null, px = dx ? texturePlanFor(xs) : null;
    const gPlace = pw?.a ?? px?.b;
    if (
      gPlace && (!dwp || pw) && (!dx || px) && (!pw || !px || samePlacement(pw.a.place, px.b.place))
    ) {
      const gt = textureFor(gPlace.size);
      packGradTexture(g, y, p, n0, nc, gPlace.place, gt);
      if (pw && dwp) {
        let ct = savedTex[k] ?? null;
        const own = !ct;
        if (!ct) {
          if (xt === undefined) xt = inputTexture(x, p);
          im2colTexture(x, p, n0, nc, pw.b.place, ct = textureFor(pw.b.size), xt);
        }
        const tmp = empty([nc * p.G, p.CoutG, p.Kp]);
        gemmInto(null, null, tmp, ws, undefined, { a: gt, b: ct });
        if (own) gpu().releaseTexture(ct);
        sumParts(tmp, dwp, nc, n0 > 0);
        tmp.dispose();
      }
      if (dx) {
        const colg = empty([nc * p.G, p.Kp, p.P]);
        gemmInto(wp, null, colg, xs, undefined, { b: gt });
        col2im(colg, dx, p, n0, nc);
        colg.dispose();
      }
      gpu().releaseTexture(gt);
      continue;
    }
    const gr = readRange(gy(), n0 * perOut, nc * perOut);
    if (dwp) {
      const col = savedCol ?? im2col(x, p, n0, nc);
      const tmp = empty([nc * p.G, p.CoutG, p.Kp]);
      gemmInto(gr.bind, col, tmp, ws);
      if (col !== savedCol) col.dispose();
      sumParts(tmp, dwp, nc, n0 > 0);
      tmp.dispose();
    }
    if (dx) {
      const colg = empty([nc * p.G, p.Kp, p.P]);
      gemmInto(wp, gr.bind, colg, xs);
      col2im(colg, dx, p, n0, nc);
      colg.dispose();
    }
    gr.tmp?.dispose();
  }
  if (masked && masked !== g) (masked as Tensor).dispose();
  if (xt) gpu().releaseTexture(xt.tex);
  const needW = need.w, needB = need.b;
  let dw: Tensor | null = null, db: Tensor | null = null;
  if (dwp && needW) {
    dw = empty([p.Cout, p.Cg, p.KH, p.KW]);
    stridedCopy(dwp, 0, [p.Kp, 1], dw, 0, [p.Kg, 1], [p.Cout, p.Kg]);
  }
  if (dwp && needB) {
    db = empty([p.Cout]);
    stridedCopy(dwp, p.Kg, [p.Kp], db, 0, [1], [p.Cout]);
  }
  dwp?.dispose();
  return [dx, dw, db];
}
