/**
 * ONNX attributes of the windowed pools (MaxPool, AveragePool, LpPool), shared by their
 * codecs: `kernel_shape`, `strides` (ONNX's default 1), `pads` / `auto_pad`, `ceil_mode`
 * → window options on import, and the explicit attributes for an input shape on export.
 *
 * @module
 */
import type { Attr } from "../../onnx/emit.ts";
import { int, ints } from "../../onnx/emit.ts";
import type { Importer } from "../../onnx/import_context.ts";
import { autoPad, pair } from "../../onnx/codecs/util.ts";
import { attrInt, attrInts, type OnnxNode } from "../../onnx/read.ts";
import type { Tensor } from "../../core/tensor.ts";
import { geometry, type WindowOptions } from "./window.ts";

/** The window of a pooling node (2-D only), or the one-line failure. */
export function windowOfNode(node: OnnxNode, imp: Importer): WindowOptions {
  const kernel = attrInts(node, "kernel_shape");
  if (!kernel || kernel.length !== 2) imp.fail(node, `only 2-D pooling is supported`);
  return {
    kernel: [kernel[0], kernel[1]],
    stride: pair(imp, node, "strides", 1),
    padding: autoPad(imp, node),
    ceilMode: attrInt(node, "ceil_mode", 0) === 1,
  };
}

/** Explicit kernel_shape, strides, pads (and ceil_mode) of a window on input `x`. */
export function windowAttrs(opts: WindowOptions, x: Tensor): Attr {
  const g = geometry("export", x.shape, opts);
  const a: Attr = {
    kernel_shape: ints([g.KH, g.KW]),
    strides: ints([g.SH, g.SW]),
    pads: ints([g.PT, g.PL, g.PB, g.PR]),
  };
  if (opts.ceilMode) a.ceil_mode = int(1);
  return a;
}

/** The dilation pair of window options. */
export function dilationOf(opts: WindowOptions): [number, number] {
  const d = opts.dilation ?? 1;
  return typeof d === "number" ? [d, d] : [d[0], d[1]];
}
