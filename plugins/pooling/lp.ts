/**
 * Lp pooling over 2-D windows, as ONNX's `LpPool`: y = (Σ |x|ᵖ)^(1/p) over each window
 * (padding contributes 0). L2 pooling is p = 2, the square root of the sum of squares.
 * The gradient is ∂y/∂x = sign(x)·|x|^(p−1) / y^(p−1) (x / y for p = 2), and 0 where y = 0.
 *
 * The file also registers the layer's ONNX codec (LpPool ⇄ LpPool2d).
 *
 * @module
 */
import { lit } from "../../core/ops/kernel.ts";
import type { Tensor } from "../../core/tensor.ts";
import type { Plugin } from "../registry.ts";
import { registerCodec } from "../../onnx/codec.ts";
import { pair } from "../../onnx/codecs/util.ts";
import { int } from "../../onnx/emit.ts";
import { attrInt } from "../../onnx/read.ts";
import { dilationOf, windowAttrs, windowOfNode } from "./codec_window.ts";
import { type WindowOptions, windowPool, WindowPool2d, type WindowReduction } from "./window.ts";

/** Options of Lp pooling. */
export interface LpPoolOptions extends WindowOptions {
  /** The exponent p ≥ 1 (default 2). */
  p?: number;
}

/** WGSL for |v|ᵖ and for the derivative factor sign(v)·|v|^(p−1) / y^(p−1). */
function powers(p: number): { term: string; slope: string } {
  if (p === 2) return { term: "v * v", slope: "v / yv" };
  if (p === 1) return { term: "abs(v)", slope: "sign(v)" };
  return {
    term: `pow(abs(v), ${lit(p)})`,
    slope: `sign(v) * pow(abs(v) / yv, ${lit(p - 1)})`,
  };
}

function root(p: number): string {
  if (p === 2) return "sqrt(acc)";
  if (p === 1) return "acc";
  return `pow(acc, ${lit(1 / p)})`;
}

/** The Lp reduction: Σ|v|ᵖ, its p-th root; the gradient g·∂y/∂v (0 where y = 0). */
function lp(p: number): WindowReduction {
  return {
    init: "var acc = 0.0;",
    accumulate: `acc = acc + ${powers(p).term};`,
    finish: root(p),
    grad: `select(0.0, go * ${powers(p).slope}, yv > 0.0)`,
    uses: { x: true, y: true },
  };
}

/**
 * 2-D Lp pooling of an NCHW tensor (ONNX `LpPool`; p = 2 by default).
 *
 * @example
 * const y = lpPool2d(x, { kernel: 2 });          // L2 pooling, stride 2
 * const z = lpPool2d(x, { kernel: 3, stride: 1, p: 3 });
 */
export function lpPool2d(x: Tensor, opts: LpPoolOptions): Tensor {
  const p = opts.p ?? 2;
  if (!(p >= 1 && Number.isFinite(p))) throw new Error(`lpPool2d: p must be ≥ 1, got ${p}`);
  return windowPool("lpPool2d", x, opts, () => lp(p));
}

/**
 * Lp pooling as a layer (p = 2 by default: L2 pooling).
 *
 * @example
 * const pool = new LpPool2d({ kernel: 2 });
 */
export class LpPool2d extends WindowPool2d<LpPoolOptions> {
  /** Copies `options`; throws now on an invalid kernel, stride, dilation or padding. */
  constructor(options: LpPoolOptions) {
    super("LpPool2d", lpPool2d, options);
  }
}

/** The "lppool" plugin: `create("pooling", "lppool", { kernel: 2, p: 3 })`. */
export const lpPoolPlugin: Plugin<LpPoolOptions, LpPool2d> = {
  kind: "pooling",
  name: "lppool",
  description: "(Σ|x|^p)^(1/p) over each window (ONNX LpPool; p = 2 by default)",
  create: (options) => new LpPool2d(options),
};

/** The "l2pool" plugin: square root of the sum of squares over each window. */
export const l2PoolPlugin: Plugin<WindowOptions, LpPool2d> = {
  kind: "pooling",
  name: "l2pool",
  description: "square root of the sum of squares over each window (LpPool, p = 2)",
  create: (options) => {
    const p = (options as LpPoolOptions).p;
    if (p !== undefined && p !== 2) throw new Error(`l2pool: p is always 2 (got ${p}); use lppool`);
    return new LpPool2d({ ...options, p: 2 });
  },
};

/**
 * The ONNX codec (registered on import): LpPool (integer p) ⇄ LpPool2d. Opset 13 has no
 * ceil_mode or dilations for LpPool, so export refuses those.
 */
export const lpPoolCodec = registerCodec<LpPool2d>({
  name: "lppool",
  opTypes: ["LpPool"],
  import(node, imp) {
    const x = imp.tensorIn(node, 0);
    const opts = { ...windowOfNode(node, imp), dilation: pair(imp, node, "dilations", 1) };
    imp.addStep(node, new LpPool2d({ ...opts, p: attrInt(node, "p", 2) }), [x]);
  },
  matches: (m) => m instanceof LpPool2d,
  export(m, ctx) {
    const p = m.options.p ?? 2;
    if (!Number.isInteger(p) || m.options.ceilMode || dilationOf(m.options).some((d) => d !== 1)) {
      throw new Error(`export: ${ctx.name}: LpPool needs an integer p, no ceil mode, no dilation`);
    }
    return ctx.node("LpPool", [ctx.input], { ...windowAttrs(m.options, ctx.x), p: int(p) });
  },
});
