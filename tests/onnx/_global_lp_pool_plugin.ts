/**
 * A pooling plugin written outside plugins/, in one file: global Lp pooling (ONNX's
 * `GlobalLpPool`), y = (Σ |x|ᵖ)^(1/p) over each whole plane → [N, C, 1, 1]. It holds the
 * op (forward and backward kernels side by side), the layer, its plugin registration and
 * its ONNX codec — so the layer goes through ONNX export (ONNX Runtime runs the standard
 * op) and import with nothing else edited. plugins/README.md shows this file.
 */
import { record } from "../../core/autograd.ts";
import { Module } from "../../core/nn/module.ts";
import { decls, grid, lit, main1d, run } from "../../core/ops/kernel.ts";
import { empty, type Tensor } from "../../core/tensor.ts";
import { registerCodec } from "../../onnx/codec.ts";
import { int } from "../../onnx/emit.ts";
import { attrInt } from "../../onnx/read.ts";
import { type Plugin, register } from "../../plugins/registry.ts";

/** (Σ |x|ᵖ)^(1/p) over each H×W plane of NCHW `x` (p a positive integer). */
export function globalLpPool2d(x: Tensor, p: number): Tensor {
  const [N, C, H, W] = x.shape;
  const n = H * W;
  const y = empty([N, C, 1, 1]);
  run(
    `${decls(["x", "y"])}
${main1d(N * C)}
  var acc = 0.0;
  for (var j = 0u; j < ${n}u; j++) {
    acc = acc + pow(abs(x[i * ${n}u + j]), ${lit(p)});
  }
  y[i] = pow(acc, ${lit(1 / p)});
}`,
    [x, y],
    grid(N * C),
  );
  // The backward rule sits beside the forward: ∂y/∂x = sign(x)·(|x| / y)^(p−1).
  return record("globalLpPool2d", y, [x], (g, [sx, sy]) => {
    const dx = empty(x.shape);
    run(
      `${decls(["g", "x", "y", "dx"])}
${main1d(x.size)}
  let o = i / ${n}u;
  let v = x[i];
  let yv = y[o];
  var d = 0.0;
  if (yv > 0.0) { d = g[o] * sign(v) * pow(abs(v) / yv, ${lit(p - 1)}); }
  dx[i] = d;
}`,
      [g, sx, sy, dx],
      grid(x.size),
    );
    return [dx];
  }, [y]);
}

/** The layer. */
export class GlobalLpPool2d extends Module {
  constructor(readonly p = 2) {
    super();
    if (!Number.isInteger(p) || p < 1) throw new Error(`GlobalLpPool2d: p must be ≥ 1, got ${p}`);
  }
  forward(x: Tensor): Tensor {
    return globalLpPool2d(x, this.p);
  }
}

/** The plugin: `create("pooling", "globallppool", { p: 3 })`. */
export const globalLpPoolPlugin: Plugin<{ p?: number }, GlobalLpPool2d> = {
  kind: "pooling",
  name: "globallppool",
  description: "(Σ|x|^p)^(1/p) of each whole plane → [N, C, 1, 1]",
  create: ({ p }) => new GlobalLpPool2d(p),
};
register(globalLpPoolPlugin);

/** The ONNX codec: GlobalLpPool ⇄ GlobalLpPool2d. */
export const globalLpPoolCodec = registerCodec<GlobalLpPool2d>({
  name: "globallppool",
  opTypes: ["GlobalLpPool"],
  import: (node, ctx) =>
    ctx.addStep(node, new GlobalLpPool2d(attrInt(node, "p", 2)), [ctx.tensorIn(node, 0)]),
  matches: (m) => m instanceof GlobalLpPool2d,
  export: (m, ctx) => ctx.node("GlobalLpPool", [ctx.input], { p: int(m.p) }),
});
