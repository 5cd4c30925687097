/**
 * Adaptive average pooling to a given output size, as PyTorch's `AdaptiveAvgPool2d`:
 * output cell i along an axis averages input rows ⌊i·In/Out⌋ … ⌈(i+1)·In/Out⌉ − 1, so the
 * input need not be a multiple of the output (VGG16 on 150×150 images turns 4×4 into 7×7,
 * with overlapping windows). Input row r belongs to the cells ⌊r·Out/In⌋ … ⌈(r+1)·Out/In⌉ − 1,
 * which is what the backward kernel gathers over.
 *
 * The file also registers the layer's ONNX codec (export only: ONNX has no adaptive pool).
 *
 * @module
 */
import { record } from "../../core/autograd.ts";
import { decls, grid, main1d, SOFTWARE_LOOP_LIMIT } from "../../core/ops/kernel.ts";
import { mean } from "../../core/ops/reduce.ts";
import { gpu } from "../../core/gpu.ts";
import { TrainingError } from "../../core/errors.ts";
import { Module } from "../../core/nn/module.ts";
import { empty, type Tensor } from "../../core/tensor.ts";
import type { Plugin } from "../registry.ts";
import { registerCodec } from "../../onnx/codec.ts";
import { ints, str } from "../../onnx/emit.ts";
import { checkNCHW, type Pair, runPlanes } from "./window.ts";

/** Options of adaptive average pooling. */
export interface AdaptiveAvgPoolOptions {
  /** Output size: a number for both axes or `[h, w]`. */
  output: Pair;
}

const WGS = 64;

interface Dims {
  H: number;
  W: number;
  OH: number;
  OW: number;
}

/** WGSL window bounds: start = ⌊i·In/Out⌋, end = ⌈(i+1)·In/Out⌉ along both axes. */
function boundsFns(d: Dims): string {
  return `fn hs(o: u32) -> u32 { return (o * ${d.H}u) / ${d.OH}u; }
fn he(o: u32) -> u32 { return ((o + 1u) * ${d.H}u + ${d.OH - 1}u) / ${d.OH}u; }
fn ws(o: u32) -> u32 { return (o * ${d.W}u) / ${d.OW}u; }
fn we(o: u32) -> u32 { return ((o + 1u) * ${d.W}u + ${d.OW - 1}u) / ${d.OW}u; }`;
}

function forwardCode(d: Dims, planes: number): string {
  const n = planes * d.OH * d.OW;
  return `${decls(["x", "y"])}
${boundsFns(d)}
${main1d(n, WGS)}
  let plane = i / ${d.OH * d.OW}u;
  let r = i % ${d.OH * d.OW}u;
  let oh = r / ${d.OW}u;
  let ow = r % ${d.OW}u;
  let xb = plane * ${d.H * d.W}u;
  let h0 = hs(oh);
  let h1 = he(oh);
  let w0 = ws(ow);
  let w1 = we(ow);
  var acc = 0.0;
  for (var ih = h0; ih < h1; ih++) {
    for (var iw = w0; iw < w1; iw++) {
      acc = acc + x[xb + ih * ${d.W}u + iw];
    }
  }
  y[i] = acc / f32((h1 - h0) * (w1 - w0));
}`;
}

function backwardCode(d: Dims, planes: number): string {
  const n = planes * d.H * d.W;
  return `${decls(["g", "dx"])}
${boundsFns(d)}
${main1d(n, WGS)}
  let plane = i / ${d.H * d.W}u;
  let r = i % ${d.H * d.W}u;
  let ih = r / ${d.W}u;
  let iw = r % ${d.W}u;
  let ob = plane * ${d.OH * d.OW}u;
  let oh0 = (ih * ${d.OH}u) / ${d.H}u;
  let oh1 = ((ih + 1u) * ${d.OH}u + ${d.H - 1}u) / ${d.H}u;
  let ow0 = (iw * ${d.OW}u) / ${d.W}u;
  let ow1 = ((iw + 1u) * ${d.OW}u + ${d.W - 1}u) / ${d.W}u;
  var acc = 0.0;
  for (var oh = oh0; oh < oh1; oh++) {
    let ch = f32(he(oh) - hs(oh));
    for (var ow = ow0; ow < ow1; ow++) {
      acc = acc + g[ob + oh * ${d.OW}u + ow] / (ch * f32(we(ow) - ws(ow)));
    }
  }
  dx[i] = acc;
}`;
}

/** The output size as `[h, w]`, checked. */
function outputOf(op: string, output: Pair): [number, number] {
  const o: [number, number] = typeof output === "number"
    ? [output, output]
    : [output[0], output[1]];
  if (!o.every((v) => Number.isInteger(v) && v >= 1)) {
    throw new Error(`${op}: output size must be positive integers, got ${JSON.stringify(output)}`);
  }
  return o;
}

/**
 * Adaptive 2-D average pooling of an NCHW tensor to `output` = [OH, OW].
 *
 * @example
 * const y = adaptiveAvgPool2d(x, [7, 7]); // [8, 512, 4, 4] → [8, 512, 7, 7]
 */
export function adaptiveAvgPool2d(x: Tensor, output: Pair, name = "adaptiveAvgPool2d"): Tensor {
  checkNCHW(name, x);
  const [N, C, H, W] = x.shape;
  const [OH, OW] = outputOf(name, output);
  if (H < 1 || W < 1) throw new Error(`${name}: empty spatial size in [${x.shape}]`);
  // A window's loops past the software adapters' loop limit (core/ops/kernel.ts) would stop
  // early: global pooling of such a map is a mean (which goes in chunks), others refused.
  const winH = Math.ceil(H / OH) + 1, winW = Math.ceil(W / OW) + 1;
  if (gpu().variant === "cpu" && winH * (winW + 1) >= SOFTWARE_LOOP_LIMIT) {
    if (OH === 1 && OW === 1) return mean(x, [2, 3], true);
    throw new TrainingError(
      `${name}: windows of ${winH}×${winW} are more than this adapter's loops can sum`,
    );
  }
  const d: Dims = { H, W, OH, OW };
  const planes = N * C;
  const y = empty([N, C, OH, OW]);
  if (y.size === 0) return y;
  runPlanes(
    name,
    planes,
    [{ t: x, perPlane: H * W }, { t: y, perPlane: OH * OW }],
    (p) => forwardCode(d, p),
    (p) => grid(p * OH * OW, WGS),
  );
  return record(name, y, [x], (g) => {
    const dx = empty(x.shape);
    runPlanes(
      `${name} backward`,
      planes,
      [{ t: g, perPlane: OH * OW }, { t: dx, perPlane: H * W }],
      (p) => backwardCode(d, p),
      (p) => grid(p * H * W, WGS),
    );
    return [dx];
  });
}

/**
 * Adaptive average pooling as a layer.
 *
 * @example
 * const avgpool = new AdaptiveAvgPool2d({ output: 7 }); // VGG16's avgpool
 */
export class AdaptiveAvgPool2d extends Module {
  /** The output size [OH, OW]. */
  readonly output: [number, number];
  /** Throws unless `output` is positive integers. */
  constructor(options: AdaptiveAvgPoolOptions) {
    super();
    this.output = outputOf("AdaptiveAvgPool2d", options.output);
  }
  /** x [N, C, H, W] → [N, C, OH, OW]. */
  forward(x: Tensor): Tensor {
    return adaptiveAvgPool2d(x, this.output);
  }
}

/** The "adaptiveavgpool" plugin: `create("pooling", "adaptiveavgpool", { output: 7 })`. */
export const adaptiveAvgPoolPlugin: Plugin<AdaptiveAvgPoolOptions, AdaptiveAvgPool2d> = {
  kind: "pooling",
  name: "adaptiveavgpool",
  description: "mean over PyTorch's adaptive windows to a fixed output size",
  create: (options) => new AdaptiveAvgPool2d(options),
};

/** The [H·W, OH·OW] matrix of adaptive average pooling (PyTorch's windows). */
function adaptiveMatrix(H: number, W: number, OH: number, OW: number): Float32Array {
  const m = new Float32Array(H * W * OH * OW);
  for (let oh = 0; oh < OH; oh++) {
    const h0 = Math.floor((oh * H) / OH), h1 = Math.ceil(((oh + 1) * H) / OH);
    for (let ow = 0; ow < OW; ow++) {
      const w0 = Math.floor((ow * W) / OW), w1 = Math.ceil(((ow + 1) * W) / OW);
      const inv = 1 / ((h1 - h0) * (w1 - w0));
      for (let h = h0; h < h1; h++) {
        for (let w = w0; w < w1; w++) m[(h * W + w) * OH * OW + oh * OW + ow] = inv;
      }
    }
  }
  return m;
}

/**
 * The ONNX codec (registered on import; export only, ONNX has no adaptive pool): an
 * output of 1×1 → GlobalAveragePool; an input that is a multiple of the output →
 * AveragePool; an output that is a multiple of the input → Resize nearest; otherwise
 * (4×4 → 7×7) an exact MatMul by the pooling matrix between two Reshapes.
 */
export const adaptiveAvgPoolCodec = registerCodec<AdaptiveAvgPool2d>({
  name: "adaptiveavgpool",
  matches: (m) => m instanceof AdaptiveAvgPool2d,
  export(m, ctx) {
    const [, , H, W] = ctx.x.shape;
    const [OH, OW] = m.output;
    const nm = ctx.name;
    if (OH === 1 && OW === 1) return ctx.node("GlobalAveragePool", [ctx.input]);
    if (H % OH === 0 && W % OW === 0) {
      const k = ints([H / OH, W / OW]);
      return ctx.node("AveragePool", [ctx.input], { kernel_shape: k, strides: k });
    }
    if (OH % H === 0 && OW % W === 0) {
      const scales = ctx.floats("scales", [4], Float32Array.from([1, 1, OH / H, OW / W]));
      return ctx.node("Resize", [ctx.input, "", scales], {
        mode: str("nearest"),
        coordinate_transformation_mode: str("asymmetric"),
        nearest_mode: str("floor"),
      });
    }
    const flat = ctx.node(
      "Reshape",
      [ctx.input, ctx.int64s("flat_shape", [0, 0, -1])],
      {},
      `${nm}_flat`,
    );
    const p = ctx.floats("pool_matrix", [H * W, OH * OW], adaptiveMatrix(H, W, OH, OW));
    const y = ctx.node("MatMul", [flat, p], {}, `${nm}_matmul`);
    return ctx.node("Reshape", [y, ctx.int64s("out_shape", [0, 0, OH, OW])]);
  },
});
