/**
 * Attribute helpers the codecs share: ONNX `auto_pad`/`pads` as the engine's padding,
 * 2-D pairs (`strides`, `dilations`), and uploading imported weights.
 *
 * @module
 */
import { gpu } from "../../core/gpu.ts";
import type { Padding } from "../../core/ops/conv_ref.ts";
import type { Tensor } from "../../core/tensor.ts";
import type { Importer } from "../import_context.ts";
import { attrInts, attrString, type OnnxNode } from "../read.ts";

/** `auto_pad` (SAME_UPPER, SAME_LOWER, VALID) or the four 2-D `pads` as a padding. */
export function autoPad(imp: Importer, node: OnnxNode): Padding {
  const ap = attrString(node, "auto_pad", "NOTSET");
  if (ap === "SAME_UPPER") return "same";
  if (ap === "SAME_LOWER") return "same_lower";
  if (ap === "VALID") return "valid";
  if (ap !== "NOTSET") imp.fail(node, `auto_pad '${ap}' is not supported`);
  const p = attrInts(node, "pads") ?? [0, 0, 0, 0];
  if (p.length !== 4) imp.fail(node, `only 2-D pads are supported, got [${p}]`);
  return [p[0], p[1], p[2], p[3]];
}

/** A 2-D ints attribute (`strides`, `dilations`) with default `dflt` on both axes. */
export function pair(imp: Importer, node: OnnxNode, name: string, dflt: number): [number, number] {
  const v = attrInts(node, name, [dflt, dflt]);
  if (v.length !== 2) imp.fail(node, `only 2-D ${name} are supported, got [${v}]`);
  return [v[0], v[1]];
}

/** Copies imported values into a module's tensor. */
export function upload(t: Tensor, data: Float32Array): void {
  gpu().upload(t.buffer, data);
}
