/**
 * Module paths for imported ONNX steps (the PyTorch-style parameter names): from weight
 * initializer names (`features.0.weight` → `features.0`) and PyTorch node names
 * (`/features/features.1/Relu`) when every step has one, else torchvision-style positional
 * names — `features.i` up to the flatten, `avgpool` for a pool right before it,
 * `classifier.j` after it.
 *
 * @module
 */
import { AvgPool2d } from "../plugins/pooling/average.ts";
import { GlobalAvgPool2d } from "../plugins/pooling/global.ts";
import type { GraphStep } from "./graph_module.ts";
import { UpsampleLayer } from "./codecs/resize.ts";
import { FlattenLayer, GemmLayer, ReshapeLayer } from "./layers.ts";

/** A PyTorch exporter node name: the module path before the last segment. */
const TORCH_NODE = /^\/(?:[^/]*\/)*([A-Za-z_][\w]*(?:\.[\w]+)*)\/[A-Za-z]+(?:_\d+)?$/;

function isFlatten(s: GraphStep): boolean {
  return s.module instanceof FlattenLayer || s.module instanceof ReshapeLayer;
}

function isPoolBeforeFlatten(s: GraphStep): boolean {
  return s.module instanceof AvgPool2d || s.module instanceof GlobalAvgPool2d ||
    s.module instanceof UpsampleLayer;
}

/** torchvision-style positional names: features.i | avgpool | flatten | classifier.j. */
function positional(steps: GraphStep[]): string[] {
  const f = steps.findIndex(isFlatten);
  const hasHead = f > 0 && steps.slice(f + 1).some((s) => s.module instanceof GemmLayer);
  if (!hasHead) return steps.map((_, k) => String(k));
  const pool = isPoolBeforeFlatten(steps[f - 1]) ? f - 1 : -1;
  return steps.map((_, k) =>
    k === pool
      ? "avgpool"
      : k === f
      ? "flatten"
      : k < f
      ? `features.${k}`
      : `classifier.${k - f - 1}`
  );
}

/**
 * Assigns every step a unique dotted path (see the module comment); `weightNames` holds
 * each weighted step's original weight initializer name.
 */
export function assignPaths(
  steps: GraphStep[],
  weightNames: ReadonlyMap<GraphStep, string>,
): void {
  const fromNames = steps.map((s) => {
    const w = weightNames.get(s);
    const m = w && /^(.+)\.(weight|bias)$/.exec(w);
    if (m && s.module.parameters().length) return m[1];
    if (s.module.parameters().length) return null;
    const t = TORCH_NODE.exec(s.node.name);
    return t ? t[1] : "";
  });
  const named = fromNames.every((p) => p !== null) &&
    fromNames.some((p) => p) &&
    new Set(fromNames.filter((p) => p)).size === fromNames.filter((p) => p).length;
  const paths = named ? fromNames as string[] : positional(steps);
  const used = new Set<string>();
  steps.forEach((s, k) => {
    let p = paths[k] || s.node.opType.toLowerCase();
    p = p.replace(/[^\w.]/g, "_");
    if (used.has(p) || [...used].some((u) => u.startsWith(p + ".") || p.startsWith(u + "."))) {
      let j = 1;
      while (used.has(`${p}_${j}`)) j++;
      p = `${p}_${j}`;
    }
    used.add(p);
    s.path = p;
  });
}
