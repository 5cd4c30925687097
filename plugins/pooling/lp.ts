/**
 * Lp pooling over 2-D windows, as ONNX's `LpPool`: y = (Σ |x|ᵖ)^(1/p) over each window
 * (padding contributes 0). L2 pooling is p = 2, the square root of the sum of squares.
 * The gradient is ∂y/∂x = sign(x)·|x|^(p−1) / y^(p−1) (x / y for p = 2), and 0 where y = 0.
 *
 * @module
 */
import { record } from "../../core/autograd.ts";
import { decls, grid, lit, main1d } from "../../core/ops/kernel.ts";
import { Module } from "../../core/nn/module.ts";
import { empty, type Tensor } from "../../core/tensor.ts";
import type { Plugin } from "../registry.ts";
import {
  checkNCHW,
  gatherWindows,
  type Geometry,
  geometry,
  runPlanes,
  type WindowOptions,
} from "./window.ts";

/** Options of Lp pooling. */
export interface LpPoolOptions extends WindowOptions {
  /** The exponent p ≥ 1 (default 2). */
  p?: number;
}

const WGS = 64;

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

function forwardCode(q: Geometry, planes: number, p: number): string {
  const n = planes * q.OH * q.OW;
  return `${decls(["x", "y"])}
${main1d(n, WGS)}
  let plane = i / ${q.OH * q.OW}u;
  let r = i % ${q.OH * q.OW}u;
  let oh = i32(r / ${q.OW}u);
  let ow = i32(r % ${q.OW}u);
  let xb = plane * ${q.H * q.W}u;
  var acc = 0.0;
  for (var ky = 0; ky < ${q.kh}; ky++) {
    let ih = oh * ${q.sh} - ${q.pt} + ky * ${q.dh};
    if (ih < 0 || ih >= ${q.H}) { continue; }
    for (var kx = 0; kx < ${q.kw}; kx++) {
      let iw = ow * ${q.sw} - ${q.pl} + kx * ${q.dw};
      if (iw < 0 || iw >= ${q.W}) { continue; }
      let v = x[xb + u32(ih * ${q.W} + iw)];
      acc = acc + ${powers(p).term};
    }
  }
  y[i] = ${root(p)};
}`;
}

function backwardCode(q: Geometry, planes: number, p: number): string {
  const n = planes * q.H * q.W;
  return `${decls(["g", "x", "y", "dx"])}
${main1d(n, WGS)}
  let plane = i / ${q.H * q.W}u;
  let r = i % ${q.H * q.W}u;
  let ih = i32(r / ${q.W}u);
  let iw = i32(r % ${q.W}u);
  let ob = plane * ${q.OH * q.OW}u;
  let v = x[i];
  var acc = 0.0;
${gatherWindows(q, `let yv = y[o]; if (yv > 0.0) { acc = acc + g[o] * ${powers(p).slope}; }`)}
  dx[i] = acc;
}`;
}

/**
 * 2-D Lp pooling of an NCHW tensor (ONNX `LpPool`; p = 2 by default).
 *
 * @example
 * const y = lpPool2d(x, { kernel: 2 });          // L2 pooling, stride 2
 * const z = lpPool2d(x, { kernel: 3, stride: 1, p: 3 });
 */
export function lpPool2d(x: Tensor, opts: LpPoolOptions): Tensor {
  checkNCHW("lpPool2d", x);
  const p = opts.p ?? 2;
  if (!(p >= 1 && Number.isFinite(p))) throw new Error(`lpPool2d: p must be ≥ 1, got ${p}`);
  const q = geometry("lpPool2d", x.shape, opts);
  const planes = q.N * q.C;
  const y = empty([q.N, q.C, q.OH, q.OW]);
  if (y.size === 0) return y;
  runPlanes(
    "lpPool2d",
    planes,
    [{ t: x, perPlane: q.H * q.W }, { t: y, perPlane: q.OH * q.OW }],
    (n) => forwardCode(q, n, p),
    (n) => grid(n * q.OH * q.OW, WGS),
  );
  return record("lpPool2d", y, [x], (g, [sx, sy]) => {
    const dx = empty(x.shape);
    runPlanes(
      "lpPool2d backward",
      planes,
      [
        { t: g, perPlane: q.OH * q.OW },
        { t: sx, perPlane: q.H * q.W },
        { t: sy, perPlane: q.OH * q.OW },
        { t: dx, perPlane: q.H * q.W },
      ],
      (n) => backwardCode(q, n, p),
      (n) => grid(n * q.H * q.W, WGS),
    );
    return [dx];
  }, [y]);
}

/**
 * Lp pooling as a layer (p = 2 by default: L2 pooling).
 *
 * @example
 * const pool = new LpPool2d({ kernel: 2 });
 */
export class LpPool2d extends Module {
  readonly options: LpPoolOptions;
  constructor(options: LpPoolOptions) {
    super();
    this.options = { ...options };
    geometry("LpPool2d", [1, 1, 1 << 20, 1 << 20], this.options); // validate early
  }
  forward(x: Tensor): Tensor {
    return lpPool2d(x, this.options);
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
