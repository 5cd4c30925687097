/**
 * WGSL generation for optimizer chains (pure): the links' statements in order, and the
 * fused update kernel of one parameter window. Per element, `g` (the update direction)
 * and `w` (the weight) are plain `var`s, each link's state slots `var`s loaded before and
 * stored after, its scalars reads of the parameter's record `r`, and the global norm
 * `nrm[0]`.
 *
 * @module
 */
import { main1d } from "../../core/ops/kernel.ts";
import type { SlotKey } from "./layout.ts";
import type { Link, LinkVars } from "./link.ts";

/** The statements of links [from, to) (`index`: per link, scalar name → record index). */
export function linkCode(
  links: readonly Link[],
  index: readonly Map<string, number>[],
  from: number,
  to: number,
): string {
  const out: string[] = [];
  for (let k = from; k < to; k++) {
    const l = links[k];
    const idx = index[k];
    const vars: LinkVars = {
      s: (name) => {
        const j = idx.get(name);
        if (j === undefined) throw new Error(`link "${l.name}" uses unknown scalar "${name}"`);
        return `r[${j}u]`;
      },
      slot: (name) => {
        if (!(name in l.init)) throw new Error(`link "${l.name}" uses unknown slot "${name}"`);
        return `L${k}_${name}`;
      },
      lr: "r[0u]",
      norm: "nrm[0u]",
    };
    out.push(`  { // ${l.name}\n${l.update(vars)}\n  }`);
  }
  return out.join("\n");
}

/**
 * The update kernel of a window of `n` elements. Bindings, in order: the record `r`, the
 * gradient `gr`, the norm `nrm` (with a global-norm link), the weight `wt`, the slots.
 */
export function updateKernel(
  n: number,
  links: readonly Link[],
  index: readonly Map<string, number>[],
  slots: readonly SlotKey[],
  hasNorm: boolean,
): string {
  const names = ["r", "gr", ...(hasNorm ? ["nrm"] : [])];
  const rw = ["wt", ...slots.map((_, j) => `s${j}`)];
  const decl = [
    ...names.map((v, k) => `@group(0) @binding(${k}) var<storage, read> ${v}: array<f32>;`),
    ...rw.map((v, k) =>
      `@group(0) @binding(${names.length + k}) var<storage, read_write> ${v}: array<f32>;`
    ),
  ].join("\n");
  const loads = slots.map((s, j) => `  var L${s.link}_${s.name} = s${j}[i];`);
  const stores = slots.map((s, j) => `  s${j}[i] = L${s.link}_${s.name};`);
  return `${decl}
${main1d(n)}
  _ = r[0u];${hasNorm ? "\n  _ = nrm[0u];" : ""}
  var g = gr[i];
  var w = wt[i];
${loads.join("\n")}
${linkCode(links, index, 0, links.length)}
  wt[i] = w;
${stores.join("\n")}
}`;
}

/** The `value` of the norm's first pass: `g` as the links before the norm link leave it. */
export function normValue(
  links: readonly Link[],
  index: readonly Map<string, number>[],
  normLink: number,
): string {
  return `    var g = gr[i];\n    var w = wt[i];\n${linkCode(links, index, 0, normLink)}`;
}
