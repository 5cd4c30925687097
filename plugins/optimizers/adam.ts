/**
 * Adam (bias-corrected), as an optimizer link and a plugin, with PyTorch's arithmetic:
 * m ← β₁m + (1−β₁)g, v ← β₂v + (1−β₂)g², w ← w − (η/(1−β₁ᵗ))·m / (√v/√(1−β₂ᵗ) + ε).
 * `epsMode: "hat"` puts ε outside the correction as the paper's efficient form, TensorFlow
 * and ONNX do: w ← w − η·√(1−β₂ᵗ)/(1−β₁ᵗ) · m/(√v + ε). `amsgrad` keeps the running
 * maximum of v. L2 regularisation ("weight_decay" in torch.optim.Adam) is the `l2` link
 * before it; decoupled decay (AdamW) is the `weightDecay` link, see adamw.ts.
 *
 * @module
 */
import type { Plugin } from "../registry.ts";
import type { Link } from "./chain.ts";
import { optimizerPlugin, type OptimizerPluginOptions } from "./plugin.ts";

/** Options of the Adam link. */
export interface AdamOptions {
  /** β₁ (default 0.9). */
  beta1?: number;
  /** β₂ (default 0.999). */
  beta2?: number;
  /** ε (default 1e-8). */
  eps?: number;
  /** Use max(v) over time (default false). */
  amsgrad?: boolean;
  /** "torch" (default): ε added to the corrected √v̂; "hat": ε added to the raw √v. */
  epsMode?: "torch" | "hat";
  /** Correct the moments' bias (default true). */
  biasCorrection?: boolean;
}

/** The Adam link (state: `m`, `v`, and `vmax` with amsgrad). */
export function adam(o: AdamOptions = {}): Link {
  const ams = o.amsgrad ?? false;
  const hat = (o.epsMode ?? "torch") === "hat";
  const correct = o.biasCorrection ?? true;
  return {
    name: "adam",
    hyper: { beta1: o.beta1 ?? 0.9, beta2: o.beta2 ?? 0.999, eps: o.eps ?? 1e-8 },
    init: ams ? { m: 0, v: 0, vmax: 0 } : { m: 0, v: 0 },
    scalars: ({ t, lr, h }) => {
      const bc1 = correct && t > 0 ? 1 - h.beta1 ** t : 1;
      const bc2 = correct && t > 0 ? 1 - h.beta2 ** t : 1;
      return {
        b1: h.beta1,
        c1: 1 - h.beta1,
        b2: h.beta2,
        c2: 1 - h.beta2,
        eps: h.eps,
        step: hat ? (lr * Math.sqrt(bc2)) / bc1 : lr / bc1,
        bc2s: Math.sqrt(bc2),
      };
    },
    update: (x) => {
      const m = x.slot("m"), v = x.slot("v"), s = x.s;
      const lines = [
        `    ${m} = ${s("b1")} * ${m} + ${s("c1")} * g;`,
        `    ${v} = ${s("b2")} * ${v} + ${s("c2")} * (g * g);`,
      ];
      let sq = v;
      if (ams) {
        lines.push(`    ${x.slot("vmax")} = max(${x.slot("vmax")}, ${v});`);
        sq = x.slot("vmax");
      }
      const denom = hat
        ? `(sqrt(${sq}) + ${s("eps")})`
        : `(sqrt(${sq}) / ${s("bc2s")} + ${s("eps")})`;
      lines.push(`    w = w - ${s("step")} * (${m} / ${denom});`);
      return lines.join("\n");
    },
  };
}

/** Plugin "adam": options `{ params, lr = 0.001, beta1, beta2, eps, amsgrad, epsMode, regularizers? }`. */
export const adamPlugin: Plugin<OptimizerPluginOptions & AdamOptions> = optimizerPlugin(
  "adam",
  "Adam with bias correction",
  0.001,
  (o: AdamOptions) => adam(o),
);
