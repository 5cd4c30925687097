/**
 * Average pooling over 2-D windows (stride, padding, dilation, ceil mode), as PyTorch's
 * `AvgPool2d` and ONNX's `AveragePool`. The divisor counts the taps inside the input, or,
 * with `countIncludePad`, also those on the padding (but never the overhang that ceil
 * mode adds past the padding, as in PyTorch). Made by the window-reduce generator of
 * `window.ts`; each window's gradient g / divisor goes to each of its taps in the input.
 *
 * The file also registers the layer's ONNX codec (AveragePool ⇄ AvgPool2d).
 *
 * @module
 */
import type { Tensor } from "../../core/tensor.ts";
import { ReLU } from "../../core/nn/activation.ts";
import { BatchNorm2d } from "../../core/nn/batchnorm.ts";
import type { FusionRule } from "../../core/nn/sequential.ts";
import type { Plugin } from "../registry.ts";
import { registerCodec } from "../../onnx/codec.ts";
import { int } from "../../onnx/emit.ts";
import { attrInt, attrInts } from "../../onnx/read.ts";
import { windowAttrs, windowOfNode } from "./codec_window.ts";
import {
  type Geometry,
  geometry,
  type WindowOptions,
  windowPool,
  WindowPool2d,
  type WindowReduction,
} from "./window.ts";

/** Options of average pooling. */
export interface AvgPoolOptions extends WindowOptions {
  /**
   * Whether padding taps count in the divisor: PyTorch's default is true (used here),
   * ONNX's default is false.
   */
  countIncludePad?: boolean;
}

/** Taps of each window along one axis that count in the divisor. */
function counts(
  n: number,
  O: number,
  k: number,
  s: number,
  d: number,
  p0: number,
  p1: number,
  inc: boolean,
) {
  const [lo, hi] = inc ? [-p0, n + p1] : [0, n];
  return Array.from({ length: O }, (_, o) => {
    let c = 0;
    for (let j = 0; j < k; j++) {
      const i = o * s - p0 + j * d;
      if (i >= lo && i < hi) c++;
    }
    return c;
  });
}

/**
 * WGSL `fn divisor(oh, ow) -> f32`: how many taps of window (oh, ow) are averaged, from
 * per-axis tables worked out here (a constant when every window counts the same).
 */
function divisorFn(q: Geometry, includePad: boolean): string {
  const ch = counts(q.H, q.OH, q.KH, q.SH, q.DH, q.PT, q.PB, includePad);
  const cw = counts(q.W, q.OW, q.KW, q.SW, q.DW, q.PL, q.PR, includePad);
  const table = (name: string, c: number[]) =>
    c.every((v) => v === c[0]) ? { decl: "", get: () => `${c[0]}.0` } : {
      decl: `var<private> ${name}: array<f32, ${c.length}> = array<f32, ${c.length}>(${
        c.map((v) => `${v}.0`).join(", ")
      });\n`,
      get: (i: string) => `${name}[${i}]`,
    };
  const h = table("CH", ch), w = table("CW", cw);
  return `${h.decl}${w.decl}fn divisor(oh: i32, ow: i32) -> f32 {
  return ${h.get("oh")} * ${w.get("ow")};
}`;
}

/** The mean reduction: sum, divided by the window's divisor; the gradient g / divisor. */
function mean(q: Geometry, includePad: boolean): WindowReduction {
  return {
    prelude: divisorFn(q, includePad),
    init: "var acc = 0.0;",
    accumulate: "acc = acc + v;",
    finish: "acc / divisor(oh, ow)",
    grad: "go / divisor(oh, ow)",
  };
}

/**
 * 2-D average pooling of an NCHW tensor.
 *
 * @example
 * const y = avgPool2d(x, { kernel: 3 }); // stride 3, as in the custom scene CNN
 * const z = avgPool2d(x, { kernel: 3, stride: 1, padding: 1, countIncludePad: false });
 */
export function avgPool2d(x: Tensor, opts: AvgPoolOptions): Tensor {
  const inc = opts.countIncludePad ?? true;
  return windowPool("avgPool2d", x, opts, (q) => mean(q, inc));
}

/**
 * Average pooling as a layer.
 *
 * @example
 * const pool = new AvgPool2d({ kernel: 3 }); // AvgPool(3, stride 3)
 */
export class AvgPool2d extends WindowPool2d<AvgPoolOptions> {
  /** Copies `options`; throws now on an invalid kernel, stride, dilation or padding. */
  constructor(options: AvgPoolOptions) {
    super("AvgPool2d", avgPool2d, options);
  }
}

/** The "avgpool" plugin: `create("pooling", "avgpool", { kernel: 3 })`. */
export const avgPoolPlugin: Plugin<AvgPoolOptions, AvgPool2d> = {
  kind: "pooling",
  name: "avgpool",
  description: "mean over each window (stride, padding, ceil mode, count_include_pad)",
  create: (options) => new AvgPool2d(options),
};

/**
 * BatchNorm2d → ReLU → AvgPool2d as one op when the pool's windows tile the input without
 * overlap or padding (kernel = stride, dilation 1, floor mode): batch normalisation then
 * writes only the pooled output, and its backward reads the pooled gradient
 * (`core/ops/batchnorm_pool.ts`). The results are the unfused ops' bits.
 */
const batchNormReluAvgPool: FusionRule = (m, next, x, after) => {
  if (!(m instanceof BatchNorm2d && next instanceof ReLU && after instanceof AvgPool2d)) {
    return null;
  }
  if (x.shape.length !== 4 || x.shape[1] !== m.numFeatures) return null;
  let q: Geometry;
  try {
    q = geometry("AvgPool2d", x.shape, after.options);
  } catch {
    return null; // the unfused pool reports it
  }
  const tiles = q.SH === q.KH && q.SW === q.KW && q.DH === 1 && q.DW === 1 &&
    q.PT === 0 && q.PL === 0 && q.PB === 0 && q.PR === 0 &&
    q.OH === Math.floor(q.H / q.KH) && q.OW === Math.floor(q.W / q.KW);
  if (!tiles) return null;
  return { y: m.forwardReluAvgPool(x, { KH: q.KH, KW: q.KW }), span: 3 };
};

/**
 * The ONNX codec (registered on import, with the BatchNorm2d → ReLU → AvgPool2d fusion):
 * AveragePool (not dilated; ONNX's default count_include_pad is 0) ⇄ AvgPool2d.
 */
export const avgPoolCodec = registerCodec<AvgPool2d>({
  name: "avgpool",
  opTypes: ["AveragePool"],
  import(node, imp) {
    const x = imp.tensorIn(node, 0);
    const opts = windowOfNode(node, imp);
    if (attrInts(node, "dilations", [1, 1]).some((d) => d !== 1)) {
      imp.fail(node, "dilated average pooling is not supported");
    }
    const countIncludePad = attrInt(node, "count_include_pad", 0) === 1;
    imp.addStep(node, new AvgPool2d({ ...opts, countIncludePad }), [x]);
  },
  matches: (m) => m instanceof AvgPool2d,
  export(m, ctx) {
    const a = windowAttrs(m.options, ctx.x);
    a.count_include_pad = int(m.options.countIncludePad ?? true ? 1 : 0);
    return ctx.node("AveragePool", [ctx.input], a);
  },
  fuse: batchNormReluAvgPool,
});
