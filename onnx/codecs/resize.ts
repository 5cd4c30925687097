/**
 * The resize codec: ONNX `Resize` (opset 10+) and `Upsample` on the spatial axes of NCHW.
 *
 * - nearest by whole-number constant scales, where the rounding rule picks input ⌊o/s⌋
 *   (the form an exported adaptive pool takes) → `UpsampleLayer`, run by the adaptive-pool
 *   kernel;
 * - every other nearest or linear (bilinear) form with coordinate_transformation_mode
 *   half_pixel, pytorch_half_pixel, align_corners, asymmetric or tf_half_pixel_for_nn, by
 *   constant scales or by `sizes` (a constant, or computed from the input's shape as
 *   PyTorch writes `interpolate(size=…)`: Shape → Slice → Concat) → `ResizeLayer`, run by
 *   core/ops/resize.ts.
 *
 * Before opset 11 (and for Upsample) the coordinates are asymmetric. Cubic mode,
 * tf_crop_and_resize, antialias and `axes` fail at load time.
 *
 * @module
 */
import { Module } from "../../core/nn/module.ts";
import { resize2d } from "../../core/ops/resize.ts";
import { axisTaps, type CoordinateMode, type NearestMode } from "../../core/ops/resize_ref.ts";
import type { Tensor } from "../../core/tensor.ts";
import { adaptiveAvgPool2d } from "../../plugins/pooling/adaptive.ts";
import { registerCodec } from "../codec.ts";
import { type ExportContext, int, str } from "../emit.ts";
import { type Importer, ints } from "../import_context.ts";
import { attrInt, attrInts, attrString, type OnnxNode } from "../read.ts";

/**
 * Nearest-neighbour upsampling of NCHW by whole factors — ONNX Resize in the form an
 * exported adaptive average pool takes when the output is a multiple of the input (each
 * output cell then averages exactly one input cell), run by the adaptive-pool kernel.
 */
export class UpsampleLayer extends Module {
  constructor(readonly scaleH: number, readonly scaleW: number) {
    super();
  }
  forward(x: Tensor): Tensor {
    return adaptiveAvgPool2d(x, [x.shape[2] * this.scaleH, x.shape[3] * this.scaleW]);
  }
}

/** How a `ResizeLayer` interpolates. */
export interface ResizeRule {
  mode: "linear" | "nearest";
  coordinate: CoordinateMode;
  nearest: NearestMode;
}

/** The output size: scale factors [h, w], or the ONNX `sizes` [N, C, H, W] for an input. */
export type ResizeTarget = { scales: [number, number] } | { sizes: (x: Tensor) => number[] };

/**
 * ONNX Resize of the spatial axes (nearest or bilinear, ONNX's coordinate rules).
 *
 * @example
 * const up = new ResizeLayer(
 *   { mode: "linear", coordinate: "align_corners", nearest: "round_prefer_floor" },
 *   { sizes: (x) => [x.shape[0], x.shape[1], 7, 7] },
 * );
 */
export class ResizeLayer extends Module {
  constructor(readonly rule: ResizeRule, readonly target: ResizeTarget) {
    super();
  }

  /** The output [H, W] for input `x`. */
  sizeFor(x: Tensor): [number, number] {
    const [N, C, H, W] = x.shape;
    if ("scales" in this.target) {
      const [sh, sw] = this.target.scales;
      return [Math.floor(H * sh), Math.floor(W * sw)];
    }
    const s = this.target.sizes(x);
    if (s.length !== 4 || s[0] !== N || s[1] !== C) {
      throw new Error(`Resize: sizes [${s}] must keep N and C of the input [${x.shape}]`);
    }
    return [s[2], s[3]];
  }

  forward(x: Tensor): Tensor {
    const scales = "scales" in this.target ? this.target.scales : undefined;
    return resize2d(x, { ...this.rule, size: this.sizeFor(x), scales });
  }
}

const COORDINATES: readonly string[] = [
  "half_pixel",
  "pytorch_half_pixel",
  "align_corners",
  "asymmetric",
  "tf_half_pixel_for_nn",
];

/** The interpolation rule of `node`, or the one-line failure. */
function ruleOf(node: OnnxNode, imp: Importer, upsampling: boolean): ResizeRule {
  const mode = attrString(node, "mode", "nearest");
  if (mode !== "nearest" && mode !== "linear") {
    imp.fail(node, `mode '${mode}' is not supported (only nearest and linear)`);
  }
  if (attrInt(node, "antialias", 0) !== 0) imp.fail(node, "antialias is not supported");
  if (attrInts(node, "axes")) imp.fail(node, "the axes attribute is not supported");
  const policy = attrString(node, "keep_aspect_ratio_policy", "stretch");
  if (policy !== "stretch") imp.fail(node, `keep_aspect_ratio_policy '${policy}' is not supported`);
  if (node.opType === "Upsample" || imp.opset < 11) {
    // Asymmetric coordinates; ONNX Runtime's nearest rounds down when upsampling, up otherwise.
    return { mode, coordinate: "asymmetric", nearest: upsampling ? "floor" : "ceil" };
  }
  const coordinate = attrString(node, "coordinate_transformation_mode", "half_pixel");
  if (!COORDINATES.includes(coordinate)) {
    imp.fail(node, `coordinate_transformation_mode '${coordinate}' is not supported`);
  }
  const nearest = attrString(node, "nearest_mode", "round_prefer_floor");
  if (!["round_prefer_floor", "round_prefer_ceil", "floor", "ceil"].includes(nearest)) {
    imp.fail(node, `nearest_mode '${nearest}' is not supported`);
  }
  return { mode, coordinate: coordinate as CoordinateMode, nearest: nearest as NearestMode };
}

/** Whether nearest upsampling by whole factor `s` under `rule` reads input ⌊o/s⌋. */
function isPlainUpsample(rule: ResizeRule, s: number): boolean {
  const big = 4 * s; // an axis long enough that no tap is clamped in the first periods
  const t = axisTaps(big, big * s, s, { ...rule });
  return Array.from({ length: 2 * s }, (_, o) => o).every((o) => t.i0[o] === Math.floor(o / s));
}

/** The constant scales of `node` (input or Upsample attribute), or null. */
function scalesOf(node: OnnxNode, imp: Importer): number[] | null {
  // opset 10 / Upsample: (X, scales); opset 11+: (X, roi, scales, sizes).
  const k = node.opType === "Upsample" || imp.opset < 11 ? 1 : 2;
  if (node.inputs[k]) {
    const s = imp.constIn(node, k, "scales");
    if (s.data.length) return Array.from(s.data);
  }
  const attr = node.attributes.scales;
  return attr ? (attr.value as number[]) : null;
}

/** The `sizes` input as a function of the input tensor, or the one-line failure. */
function sizesOf(node: OnnxNode, imp: Importer, x: string): (t: Tensor) => number[] {
  if (!node.inputs[3]) imp.fail(node, "Resize needs constant scales or sizes");
  const v = imp.val(node, node.inputs[3]);
  if (v.kind === "const") {
    const s = ints(v.v);
    return () => s;
  }
  if (v.kind !== "dyn" || v.reads.some((r) => r !== x)) {
    imp.fail(node, "sizes must be constant or computed from the shape of the resized input");
  }
  return (t) => ints(v.f(new Map([[x, t.shape]])));
}

function importResize(node: OnnxNode, imp: Importer): void {
  const x = imp.tensorIn(node, 0);
  const scales = scalesOf(node, imp);
  if (scales && (scales.length !== 4 || scales[0] !== 1 || scales[1] !== 1)) {
    imp.fail(node, `only spatial scales of an NCHW input are supported, got [${scales}]`);
  }
  const up = !scales || (scales[2] >= 1 && scales[3] >= 1);
  const rule = ruleOf(node, imp, up);
  if (scales) {
    const [sh, sw] = [scales[2], scales[3]];
    const whole = [sh, sw].every((s) => Number.isInteger(s) && s >= 1);
    if (rule.mode === "nearest" && whole && [sh, sw].every((s) => isPlainUpsample(rule, s))) {
      return imp.addStep(node, new UpsampleLayer(sh, sw), [x]);
    }
    if (!(sh > 0 && sw > 0)) imp.fail(node, `scales must be positive, got [${scales}]`);
    return imp.addStep(node, new ResizeLayer(rule, { scales: [sh, sw] }), [x]);
  }
  imp.addStep(node, new ResizeLayer(rule, { sizes: sizesOf(node, imp, x) }), [x]);
}

/** Resize with the given rule and either scales or sizes as the third/fourth input. */
function resizeNode(ctx: ExportContext, rule: ResizeRule, scalesOrSizes: string[]): string {
  return ctx.node("Resize", [ctx.input, "", ...scalesOrSizes], {
    mode: str(rule.mode),
    coordinate_transformation_mode: str(rule.coordinate),
    nearest_mode: str(rule.nearest),
  });
}

/** Writes a ResizeLayer: constant scales, or sizes = the input's N, C and this H, W. */
function exportResize(m: ResizeLayer, ctx: ExportContext): string {
  if ("scales" in m.target) {
    const s = ctx.floats("scales", [4], Float32Array.from([1, 1, ...m.target.scales]));
    return resizeNode(ctx, m.rule, [s]);
  }
  const nm = ctx.name;
  const shape = ctx.node("Shape", [ctx.input], {}, `${nm}_shape`);
  const nc = ctx.node(
    "Slice",
    [shape, ctx.int64s("nc_start", [0]), ctx.int64s("nc_end", [2])],
    {},
    `${nm}_nc`,
  );
  const hw = ctx.int64s("hw", m.sizeFor(ctx.x));
  const sizes = ctx.node("Concat", [nc, hw], { axis: int(0) }, `${nm}_sizes`);
  return resizeNode(ctx, m.rule, ["", sizes]);
}

const NEAREST_FLOOR: ResizeRule = {
  mode: "nearest",
  coordinate: "asymmetric",
  nearest: "floor",
};

/** Resize, Upsample ⇄ UpsampleLayer, ResizeLayer. */
export const resizeCodec = registerCodec<Module>({
  name: "resize",
  opTypes: ["Resize", "Upsample"],
  import: importResize,
  matches: (m) => m instanceof UpsampleLayer || m instanceof ResizeLayer,
  export(m, ctx) {
    if (m instanceof ResizeLayer) return exportResize(m, ctx);
    const u = m as UpsampleLayer;
    const s = ctx.floats("scales", [4], Float32Array.from([1, 1, u.scaleH, u.scaleW]));
    return resizeNode(ctx, NEAREST_FLOOR, [s]);
  },
});
