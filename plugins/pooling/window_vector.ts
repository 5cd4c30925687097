/**
 * The vector path of the windowed pools: when the windows tile each input row exactly (no
 * padding, stride = kernel width, no dilation along the row, every window inside), an
 * invocation owns P neighbouring windows of one output row and reads each of their KH input
 * rows as one vec4 or vec2 — on the software adapters a scalar read per lane costs a gather,
 * and the 2×2 pools after a conv ran at about 1 GB/s. The reductions are the same
 * `WindowReduction`s as the scalar kernels of `window.ts`, run once per window.
 *
 * @module
 */
import { main1d } from "../../core/ops/kernel.ts";
import type { Window2d } from "../../core/ops/window.ts";
import type { WindowReduction } from "./reduction.ts";

const WGS = 64;

/** WGSL declarations of storage bindings 0, 1, …: [name, element type, writable]. */
export function storageBindings(names: [string, string, boolean][]): string {
  return names.map(([n, t, rw], k) =>
    `@group(0) @binding(${k}) var<storage, ${rw ? "read_write" : "read"}> ${n}: array<${t}>;`
  ).join("\n");
}

/**
 * The vector plan of a pool whose windows tile each row exactly (no padding, stride =
 * kernel width, no dilation along the row, every window inside): an invocation owns P
 * neighbouring windows of one output row and reads each of their KH input rows as one
 * vecV (V = P·KW), where lane-by-lane scalar reads cost the software adapters a gather
 * each. Null when the geometry does not allow it.
 */
export function vectorPlan(q: Window2d): { V: number; P: number } | null {
  const inside = q.PT === 0 && (q.OH - 1) * q.SH + (q.KH - 1) * q.DH < q.H;
  if (!inside || q.PL !== 0 || q.SW !== q.KW || q.DW !== 1 || q.OW * q.KW !== q.W) return null;
  for (const V of [4, 2]) {
    if (V % q.KW === 0 && q.W % V === 0 && q.OW % (V / q.KW) === 0) return { V, P: V / q.KW };
  }
  return null;
}

const vec = (n: number, t: string) => (n === 1 ? t : `vec${n}<${t}>`);

/**
 * The bindings, entry point and decoding shared by both vector kernels: invocation i owns
 * window group `gq` of output row `oh` of plane `plane`, whose input starts at vec `xb`.
 */
function groupHeader(
  q: Window2d,
  r: WindowReduction,
  b: [string, string, boolean][],
  planes: number,
  groups: number,
  rowVecs: number,
): string {
  return `${storageBindings(b)}
${r.prelude ?? ""}
${main1d(planes * q.OH * groups, WGS)}
  let plane = i / ${q.OH * groups}u;
  let rest = i % ${q.OH * groups}u;
  let oh = i32(rest / ${groups}u);
  let gq = rest % ${groups}u;
  let xb = plane * ${q.H * rowVecs}u;`;
}

/** The forward through `vectorPlan`: P windows an invocation, rows read as vecV. */
export function vectorForward(
  q: Window2d,
  r: WindowReduction,
  planes: number,
  arg: boolean,
  { V, P }: { V: number; P: number },
): string {
  const b: [string, string, boolean][] = [["x", vec(V, "f32"), false], ["y", vec(P, "f32"), true]];
  if (arg) b.push(["am", vec(P, "i32"), true]);
  const rowVecs = q.W / V, groups = q.OW / P;
  const rows = [...Array(q.KH).keys()].map((ky) =>
    `  let r${ky} = x[xb + u32(oh * ${q.SH} + ${ky * q.DH}) * ${rowVecs}u + gq];`
  );
  const wins = [...Array(P).keys()].map((p) => {
    const taps: string[] = [];
    for (let ky = 0; ky < q.KH; ky++) {
      for (let kx = 0; kx < q.KW; kx++) {
        const c = p * q.KW + kx;
        taps.push(`    {
      let v = r${ky}${V > 1 ? `[${c}]` : ""};
      let tap = ${ky * q.KW + kx};
      ${r.accumulate}
    }`);
      }
    }
    return `  var o${p}: f32;${
      arg
        ? `
  var w${p}: i32;`
        : ""
    }
  {
    let ow = i32(gq * ${P}u + ${p}u);
    ${r.init}
${taps.join("\n")}
    o${p} = ${r.finish};${
      arg
        ? `
    w${p} = ${r.argmax};`
        : ""
    }
  }`;
  });
  const all = (v: string, t: string) =>
    P === 1 ? `${v}0` : `${vec(P, t)}(${[...Array(P).keys()].map((p) => `${v}${p}`).join(", ")})`;
  return `${groupHeader(q, r, b, planes, groups, rowVecs)}
${rows.join("\n")}
${wins.join("\n")}
  y[i] = ${all("o", "f32")};${
    arg
      ? `
  am[i] = ${all("w", "i32")};`
      : ""
  }
}`;
}

/** The disjoint-window backward through `vectorPlan`: each input row piece one vecV store. */
export function vectorScatter(
  q: Window2d,
  r: WindowReduction,
  planes: number,
  { V, P }: { V: number; P: number },
): string {
  const b: [string, string, boolean][] = [["g", vec(P, "f32"), false]];
  if (r.uses?.x) b.push(["x", vec(V, "f32"), false]);
  if (r.uses?.y) b.push(["y", vec(P, "f32"), false]);
  if (r.argmax) b.push(["am", vec(P, "i32"), false]);
  b.push(["dx", vec(V, "f32"), true]);
  const rowVecs = q.W / V, groups = q.OW / P;
  const at = (v: string, p: number) => (P > 1 ? `${v}[${p}]` : v);
  const lines: string[] = [];
  for (let ky = 0; ky < q.KH; ky++) {
    lines.push(`  {
    let xi = xb + u32(oh * ${q.SH} + ${ky * q.DH}) * ${rowVecs}u + gq;${
      r.uses?.x ? "\n    let xr = x[xi];" : ""
    }
    var d: ${vec(V, "f32")};`);
    for (let p = 0; p < P; p++) {
      for (let kx = 0; kx < q.KW; kx++) {
        const c = p * q.KW + kx;
        lines.push(`    {
      let ow = i32(gq * ${P}u + ${p}u);
      let go = ${at("gv", p)};${
          r.uses?.y
            ? `
      let yv = ${at("yr", p)};`
            : ""
        }${
          r.argmax
            ? `
      let win = ${at("wr", p)};`
            : ""
        }${
          r.uses?.x
            ? `
      let v = ${V > 1 ? `xr[${c}]` : "xr"};`
            : ""
        }
      let tap = ${ky * q.KW + kx};
      d${V > 1 ? `[${c}]` : ""} = ${r.grad};
    }`);
      }
    }
    lines.push(`    dx[xi] = d;\n  }`);
  }
  return `${groupHeader(q, r, b, planes, groups, rowVecs)}
  let gv = g[i];${r.uses?.y ? "\n  let yr = y[i];" : ""}${r.argmax ? "\n  let wr = am[i];" : ""}
${lines.join("\n")}
}`;
}
