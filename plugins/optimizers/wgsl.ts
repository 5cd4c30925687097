/**
 * WGSL generation for optimizer chains (pure): the links' statements in order, the fused
 * update kernel of one parameter window, and the one of a group of parameters. Per element, `g` (the update direction)
 * and `w` (the weight) are plain `var`s, each link's state slots `var`s loaded before and
 * stored after, its scalars reads of the parameter's record `r` (a uniform
 * `array<vec4<f32>, K>` in the update kernels, a storage `array<f32>` where `K` is 0), and
 * the global norm `nrm.x` (a uniform vec4, for the same reason).
 *
 * @module
 */
import { main1d } from "../../core/ops/kernel.ts";
import { flatDecl, flatLoad } from "../../core/ops/texture_read.ts";
import type { SlotKey } from "./layout.ts";
import type { Link, LinkVars } from "./link.ts";

/** The global norm's declaration at `binding`: a uniform vec4 (`nrm.x`; 16 bytes bound). */
const NORM_DECL = (binding: number) =>
  `@group(0) @binding(${binding}) var<uniform> nrm: vec4<f32>;`;

/** Float `k` of the records `r`: of a uniform `array<vec4<f32>, K>` (`uniform`), or storage. */
function recordAt(k: number, uniform: boolean): string {
  return uniform ? `r[${k >> 2}u][${k & 3}u]` : `r[${k}u]`;
}

/** The declaration of the records `r` at binding 0: `vec4s` uniform vec4s, or (0) storage. */
function recordDecl(vec4s: number): string {
  return vec4s > 0
    ? `@group(0) @binding(0) var<uniform> r: array<vec4<f32>, ${vec4s}>;`
    : `@group(0) @binding(0) var<storage, read> r: array<f32>;`;
}

/**
 * The statements of links [from, to) (`index`: per link, scalar name → record index; the
 * record from float `rBase`, of a uniform `r` with `uniform`).
 */
export function linkCode(
  links: readonly Link[],
  index: readonly Map<string, number>[],
  from: number,
  to: number,
  rBase = 0,
  uniform = false,
): string {
  const out: string[] = [];
  for (let k = from; k < to; k++) {
    const l = links[k];
    const idx = index[k];
    const vars: LinkVars = {
      s: (name) => {
        const j = idx.get(name);
        if (j === undefined) throw new Error(`link "${l.name}" uses unknown scalar "${name}"`);
        return recordAt(rBase + j, uniform);
      },
      slot: (name) => {
        if (!(name in l.init)) throw new Error(`link "${l.name}" uses unknown slot "${name}"`);
        return `L${k}_${name}`;
      },
      lr: recordAt(rBase, uniform),
      norm: "nrm.x",
    };
    out.push(`  { // ${l.name}\n${l.update(vars)}\n  }`);
  }
  return out.join("\n");
}

/**
 * The update kernel of a window of `n` elements, `vec` elements an invocation: with 4 (`n` a
 * multiple of 4), the gradient, weight and slots are read and written as vec4 (storage
 * access dominates on software adapters) and the links' scalar statements run once per
 * component; with 1, one element an invocation.
 * Bindings, in order: the record `r` (`recVec4s` uniform vec4s; 0: a storage buffer), the
 * gradient `gr`, the norm `nrm` (with a global-norm link), the weight `wt`, the slots.
 */
export function updateKernel(
  n: number,
  links: readonly Link[],
  index: readonly Map<string, number>[],
  slots: readonly SlotKey[],
  hasNorm: boolean,
  vec: 1 | 4 = 1,
  tex: FlatLayout | null = null,
  recVec4s = 0,
): string {
  const names = ["gr", ...(hasNorm ? ["nrm"] : [])];
  const rw = ["wt", ...slots.map((_, j) => `s${j}`)];
  const ty = vec === 4 ? "vec4<f32>" : "f32";
  const decl = [
    recordDecl(recVec4s),
    `@group(0) @binding(1) var<storage, read> gr: array<${ty}>;`,
    ...(hasNorm ? [NORM_DECL(2)] : []),
    ...rw.map((v, k) =>
      `@group(0) @binding(${1 + names.length + k}) var<storage, read_write> ${v}: array<${ty}>;`
    ),
  ].join("\n");
  const body = linkCode(links, index, 0, links.length, 0, recVec4s > 0);
  const head = `${decl}
${main1d(n / vec)}
  _ = r[0u];${hasNorm ? "\n  _ = nrm.x;" : ""}`;
  if (vec === 1) {
    const loads = slots.map((s, j) => `  var L${s.link}_${s.name} = s${j}[i];`);
    const stores = slots.map((s, j) => `  s${j}[i] = L${s.link}_${s.name};`);
    return `${head}
  var g = gr[i];
  var w = wt[i];
${loads.join("\n")}
${body}
  wt[i] = w;
${stores.join("\n")}
}`;
  }
  if (tex) return textureUpdate(n, links, index, slots, hasNorm, tex, recVec4s);
  const lanes = vec4Lanes(slots, body);
  return `${head}
  let G = gr[i];
  var W = wt[i];
${slots.map((_, j) => `  var S${j} = s${j}[i];`).join("\n")}
${lanes.join("\n")}
  wt[i] = W;
${slots.map((_, j) => `  s${j}[i] = S${j};`).join("\n")}
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

/** One parameter of a grouped update: its invocations, width and record offset (floats). */
export interface GroupMember {
  /** Invocations (vec4s with `vec` 4, else elements). */
  count: number;
  vec: 1 | 4;
  /** Float index of its record in the records buffer. */
  rBase: number;
}

/**
 * One update kernel for several parameters (each in one window), so a step costs one
 * dispatch per group instead of one per parameter. Bindings: the whole records buffer `r`
 * (`recVec4s` uniform vec4s; 0: a storage buffer),
 * the norm `nrm` (with a global-norm link), then per member k its gradient `gr{k}`, weight
 * `wt{k}` and slots `s{j}_{k}`. Invocation i belongs to the member whose range holds it.
 */
export function groupKernel(
  members: readonly GroupMember[],
  links: readonly Link[],
  index: readonly Map<string, number>[],
  slots: readonly SlotKey[],
  hasNorm: boolean,
  recVec4s = 0,
): string {
  const decl: string[] = [recordDecl(recVec4s)];
  if (hasNorm) decl.push(NORM_DECL(1));
  let b = decl.length, end = 0;
  const branches: string[] = [];
  members.forEach((m, k) => {
    const ty = m.vec === 4 ? "vec4<f32>" : "f32";
    decl.push(`@group(0) @binding(${b++}) var<storage, read> gr${k}: array<${ty}>;`);
    decl.push(`@group(0) @binding(${b++}) var<storage, read_write> wt${k}: array<${ty}>;`);
    slots.forEach((_, j) =>
      decl.push(`@group(0) @binding(${b++}) var<storage, read_write> s${j}_${k}: array<${ty}>;`)
    );
    const start = end;
    end += m.count;
    const body = linkCode(links, index, 0, links.length, m.rBase, recVec4s > 0);
    const lane = (c: string | null) => {
      const at = (v: string) => (c ? `${v}.${c}` : v);
      const loads = slots.map((s, j) => `    var L${s.link}_${s.name} = ${at(`S${j}`)};`);
      const stores = slots.map((s, j) => `    ${at(`S${j}`)} = L${s.link}_${s.name};`);
      return `  {
    var g = ${at("G")};
    var w = ${at("W")};
${loads.join("\n")}
${body.replace(/^/gm, "  ")}
    ${at("W")} = w;
${stores.join("\n")}
  }`;
    };
    const lanes = m.vec === 4 ? ["x", "y", "z", "w"].map(lane) : [lane(null)];
    branches.push(`${k ? " else " : "  "}if (i < ${end}u) {
  let q = i - ${start}u;
  let G = gr${k}[q];
  var W = wt${k}[q];
${slots.map((_, j) => `  var S${j} = s${j}_${k}[q];`).join("\n")}
${lanes.join("\n")}
  wt${k}[q] = W;
${slots.map((_, j) => `  s${j}_${k}[q] = S${j};`).join("\n")}
  }`);
  });
  return `${decl.join("\n")}
${main1d(end)}
  _ = r[0u];${hasNorm ? "\n  _ = nrm.x;" : ""}
${branches.join("")}
}`;
}

/** The layout of the flat textures the update reads (`core/ops/texture_read.ts`). */
export interface FlatLayout {
  rows: number;
  layers: number;
}

/**
 * `updateKernel`'s vec4 form reading the gradient, the weight and the slots through flat
 * textures (bindings: records, the norm when used, then the textures gr, wt, s0 …, then the
 * storage buffers wt, s0 … it writes), for adapters whose storage loads are slow.
 */
function textureUpdate(
  n: number,
  links: readonly Link[],
  index: readonly Map<string, number>[],
  slots: readonly SlotKey[],
  hasNorm: boolean,
  t: FlatLayout,
  recVec4s: number,
): string {
  const decl = [recordDecl(recVec4s)];
  if (hasNorm) decl.push(NORM_DECL(1));
  const reads = ["gr", "wt", ...slots.map((_, j) => `s${j}`)];
  const first = decl.length;
  reads.forEach((v, k) => decl.push(flatDecl(first + k, `T${v}`)));
  const base = decl.length;
  reads.slice(1).forEach((v, k) =>
    decl.push(`@group(0) @binding(${base + k}) var<storage, read_write> ${v}: array<vec4<f32>>;`)
  );
  const body = linkCode(links, index, 0, links.length, 0, recVec4s > 0);
  const lanes = vec4Lanes(slots, body);
  return `${decl.join("\n")}
${main1d(n / 4)}
  _ = r[0u];${hasNorm ? "\n  _ = nrm.x;" : ""}
  let G = ${flatLoad("Tgr", "i", t)};
  var W = ${flatLoad("Twt", "i", t)};
${slots.map((_, j) => `  var S${j} = ${flatLoad(`Ts${j}`, "i", t)};`).join("\n")}
${lanes.join("\n")}
  wt[i] = W;
${slots.map((_, j) => `  s${j}[i] = S${j};`).join("\n")}
}`;
}

/** The update `body` run on each component of the loaded vec4s G, W and S0 … (then stored back). */
function vec4Lanes(slots: readonly SlotKey[], body: string): string[] {
  return ["x", "y", "z", "w"].map((c) => {
    const loads = slots.map((s, j) => `    var L${s.link}_${s.name} = S${j}.${c};`);
    const stores = slots.map((s, j) => `    S${j}.${c} = L${s.link}_${s.name};`);
    return `  {
    var g = G.${c};
    var w = W.${c};
${loads.join("\n")}
${body.replace(/^/gm, "  ")}
    W.${c} = w;
${stores.join("\n")}
  }`;
  });
}
