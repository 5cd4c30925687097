/**
 * Reductions along axes: sum, mean and max, with their gradients; `sumTo`, which folds a
 * broadcast gradient back to an operand's shape; and the raw two-pass global L2 norm over
 * many buffers (`sumSquaresPartial` per buffer, then `normFinish`), which gradient
 * clipping uses.
 */
import { record } from "../tape.ts";
import { empty, type Tensor } from "../tensor.ts";
import { elementwise } from "./raw.ts";
import type { Binding } from "../gpu.ts";
import { axisOf, decls, fitsBinding, grid, lit, main1d, run, workgroupSum } from "./kernel.ts";
import { reshape } from "./shape.ts";

/** Axes as a sorted list (all axes when omitted). */
function axesOf(axes: number | number[] | undefined, rank: number): number[] {
  if (axes === undefined) return [...Array(rank).keys()];
  const list = (Array.isArray(axes) ? axes : [axes]).map((a) => axisOf(a, rank));
  return [...new Set(list)].sort((x, y) => x - y);
}

/** Merges neighbouring axes of the same kind: [[size, reduced], …]. */
function groups(shape: readonly number[], axes: number[]): [number, boolean][] {
  const out: [number, boolean][] = [];
  shape.forEach((d, k) => {
    const r = axes.includes(k);
    if (d === 1) return;
    const last = out[out.length - 1];
    if (last && last[1] === r) last[0] *= d;
    else out.push([d, r]);
  });
  return out;
}

/**
 * Reduced elements one invocation takes: a longer reduction goes in chunks of this many
 * (below the software adapters' loop limit, `SOFTWARE_LOOP_LIMIT`; shorter ones keep
 * their order, and their bits).
 */
const REDUCE_CHUNK = 32768;

/** The keep-dims reduction of `a` over `axes` with op "sum" or "max". */
function reduceKernel(op: "sum" | "max", a: Tensor, axes: number[]): Tensor {
  fitsBinding("reduce", a.bytes);
  const keepShape = a.shape.map((d, k) => (axes.includes(k) ? 1 : d));
  const gs = groups(a.shape, axes);
  const nOut = keepShape.reduce((p, d) => p * d, 1);
  // Offsets: the kept index o and the reduced index r decomposed over the merged groups.
  let stride = 1;
  const keptTerms: string[] = [], redTerms: string[] = [];
  let keptDiv = 1, redDiv = 1;
  for (let k = gs.length - 1; k >= 0; k--) {
    const [size, red] = gs[k];
    const div = red ? redDiv : keptDiv;
    const v = red ? "r" : "o";
    const coord = div === 1 ? `${v}` : `(${v} / ${div}u)`;
    const c = (red ? redDiv * size : keptDiv * size) === (red ? totalRed() : nOut)
      ? coord
      : `(${coord} % ${size}u)`;
    (red ? redTerms : keptTerms).push(stride === 1 ? c : `${c} * ${stride}u`);
    if (red) redDiv *= size;
    else keptDiv *= size;
    stride *= size;
  }
  function totalRed() {
    return gs.filter(([, r]) => r).reduce((p, [s]) => p * s, 1);
  }
  const nRed = totalRed();
  const init = op === "sum" ? "0.0" : lit(-Infinity);
  const acc = op === "sum" ? "acc = acc + x[base + rOff];" : "acc = max(acc, x[base + rOff]);";
  if (nRed > REDUCE_CHUNK) {
    // Chunks of the reduced index first, [nOut][chunks], then those reduced in turn: one
    // invocation's loop stays within the software adapters' loop limit (kernel.ts), past
    // which a sum of 300,000 ones read 65,535.
    const nC = Math.ceil(nRed / REDUCE_CHUNK), part = empty([nOut, nC]);
    const code = `${decls(["x", "part"])}
${main1d(nOut * nC, 64)}
  let o = i / ${nC}u;
  let base = ${keptTerms.join(" + ") || "0u"};
  var acc = ${init};
  for (var j = 0u; j < ${REDUCE_CHUNK}u; j++) {
    let r = (i % ${nC}u) * ${REDUCE_CHUNK}u + j;
    if (r >= ${nRed}u) { break; }
    let rOff = ${redTerms.join(" + ") || "0u"};
    ${acc}
  }
  part[i] = acc;
}`;
    run(code, [a, part], grid(nOut * nC, 64));
    const r = reduceKernel(op, part, [1]);
    part.dispose();
    const y = reshape(r, keepShape);
    if (y !== r) r.dispose();
    return y;
  }
  const out = empty(keepShape);
  const code = `${decls(["x", "out"])}
${main1d(nOut, 64)}
  let o = i;
  let base = ${keptTerms.join(" + ") || "0u"};
  var acc = ${init};
  for (var r = 0u; r < ${nRed}u; r++) {
    let rOff = ${redTerms.join(" + ") || "0u"};
    ${acc}
  }
  out[i] = acc;
}`;
  run(code, [a, out], grid(nOut, 64));
  return out;
}

/** Sum over `axes` (all by default), dropping them unless `keepDims`. */
export function sum(a: Tensor, axes?: number | number[], keepDims = false): Tensor {
  const ax = axesOf(axes, a.shape.length);
  const k = reduceKernel("sum", a, ax);
  const y = keepDims ? k : reshape(k, a.shape.filter((_, d) => !ax.includes(d)));
  if (y !== k) k.dispose();
  return record("sum", y, [a], (g) => [elementwise("g", { g: reshape(g, k.shape) }, a.shape)]);
}

/** Mean over `axes` (all by default). */
export function mean(a: Tensor, axes?: number | number[], keepDims = false): Tensor {
  const ax = axesOf(axes, a.shape.length);
  const count = ax.reduce((p, d) => p * a.shape[d], 1);
  const s = reduceKernel("sum", a, ax);
  const m = elementwise(`a * ${lit(1 / count)}`, { a: s }, s.shape);
  s.dispose();
  const y = keepDims ? m : reshape(m, a.shape.filter((_, d) => !ax.includes(d)));
  if (y !== m) m.dispose();
  return record("mean", y, [a], (g) => [
    elementwise(`g * ${lit(1 / count)}`, { g: reshape(g, m.shape) }, a.shape),
  ]);
}

/** Maximum over `axes`; the gradient is shared equally among tied maxima. */
export function max(a: Tensor, axes?: number | number[], keepDims = false): Tensor {
  const ax = axesOf(axes, a.shape.length);
  const k = reduceKernel("max", a, ax);
  const y = keepDims ? k : reshape(k, a.shape.filter((_, d) => !ax.includes(d)));
  return record("max", y, [a], (g, [sa, sk]) => {
    const ties = elementwise("select(0.0, 1.0, a == y)", { a: sa, y: sk }, a.shape);
    const count = reduceKernel("sum", ties, ax);
    ties.dispose();
    const gk = reshape(g, k.shape);
    return [elementwise("select(0.0, g / c, a == y)", { g: gk, c: count, a: sa, y: sk }, a.shape)];
  }, [k]);
}

/** Sums a broadcast tensor back down to `shape` (the gradient of broadcasting). */
export function sumTo(t: Tensor, shape: readonly number[]): Tensor {
  if (t.shape.length === shape.length && t.shape.every((d, k) => d === shape[k])) return t;
  const lead = t.shape.length - shape.length;
  const axes = t.shape.map((_, k) => k).filter((k) => k < lead || shape[k - lead] === 1);
  const s = reduceKernel("sum", t, axes);
  const out = reshape(s, shape);
  if (out !== s) s.dispose();
  return out;
}

// ---- global L2 norm (raw) ----------------------------------------------------------

/** Floats of one buffer's region in a partial-sum buffer: at most this many workgroups. */
export const NORM_PARTIALS = 64;
const NORM_WG = 256;
const normCode = new Map<string, string>();

function cachedCode(key: string, make: () => string): string {
  let c = normCode.get(key);
  if (c === undefined) normCode.set(key, c = make());
  return c;
}

/**
 * Records the first pass of a global L2 norm for one buffer of `n` values: up to
 * `NORM_PARTIALS` workgroups each write the Σ g² of their stride of elements into
 * `part[workgroup]` (`part` holds `NORM_PARTIALS` floats; clear it first, as unused slots
 * are not written). `inputs` are read-only bindings with their WGSL names, bound in order
 * before `part`; `value` is WGSL that declares `var g` for element `i` from them (by
 * default `var g = <first input>[i];`), e.g. a gradient transformed by earlier links.
 */
export function sumSquaresPartial(
  n: number,
  inputs: readonly [name: string, binding: Binding][],
  part: Binding,
  value?: string,
): void {
  const wgs = Math.min(NORM_PARTIALS, Math.ceil(n / NORM_WG));
  const names = inputs.map(([k]) => k);
  const body = value ?? `    var g = ${names[0]}[i];`;
  const code = cachedCode(`p${n}:${names}:${body}`, () =>
    `${decls([...names, "part"])}
var<workgroup> acc: array<f32, ${NORM_WG}>;
@compute @workgroup_size(${NORM_WG})
fn main(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u) {
${names.map((k) => `  _ = ${k}[0u];`).join("\n")}
  var sum = 0.0;
  for (var i = wid.x * ${NORM_WG}u + lid.x; i < ${n}u; i = i + ${wgs * NORM_WG}u) {
${body}
    sum = sum + g * g;
  }
${workgroupSum([["acc", "sum"]], NORM_WG, "lid.x")}
  if (lid.x == 0u) { part[wid.x] = acc[0]; }
}`);
  run(code, [...inputs.map(([, b]) => b), part], [wgs]);
}

/** Records the second pass: `out[0] = sqrt(Σ part[0 … count))` (one workgroup). */
export function normFinish(part: Binding, count: number, out: Binding): void {
  const code = cachedCode(`f${count}`, () =>
    `${decls(["part", "nrm"])}
var<workgroup> acc: array<f32, ${NORM_WG}>;
@compute @workgroup_size(${NORM_WG})
fn main(@builtin(local_invocation_id) lid: vec3u) {
  var sum = 0.0;
  for (var i = lid.x; i < ${count}u; i = i + ${NORM_WG}u) { sum = sum + part[i]; }
${workgroupSum([["acc", "sum"]], NORM_WG, "lid.x")}
  if (lid.x == 0u) { nrm[0] = sqrt(acc[0]); }
}`);
  run(code, [part, out], [1]);
}
