/**
 * Small helpers shared by the op kernels: WGSL literals (`lit`, the one float-literal
 * helper), 1-D dispatch grids that respect the 65,535-workgroup limit, binding
 * declarations, workgroup tree sums, and running a kernel on tensors.
 */
import { type Bindable, gpu } from "../gpu.ts";
import type { Tensor } from "../tensor.ts";

/** Invocations per workgroup for 1-D kernels. */
export const WG = 256;

/**
 * Loop iterations one invocation may run on Mesa's software adapters (lavapipe, llvmpipe):
 * gallivm gives each shader one counter, shared by all its loops and decremented at every
 * iteration of any of them, and at zero every loop exits — silently, with whatever the
 * accumulators hold (`LP_MAX_TGSI_LOOP_ITERATIONS` in lp_bld_limits.h, 65,535). A kernel
 * whose loops' total trip count depends on the data (an invocation summing over many images
 * or a long reduction) must keep under it on those adapters; real GPUs have no such limit.
 */
export const SOFTWARE_LOOP_LIMIT = 65535;

/** A WGSL f32 expression for a JS number (handles integers, infinities and NaN). */
export function lit(v: number): string {
  if (Number.isNaN(v)) return "bitcast<f32>(0x7fc00000u)";
  if (v === Infinity) return "bitcast<f32>(0x7f800000u)";
  if (v === -Infinity) return "bitcast<f32>(0xff800000u)";
  const f = Math.fround(v);
  let s = Number.isInteger(f) && Math.abs(f) < 1e15 ? f.toFixed(1) : f.toExponential(9);
  if (Object.is(f, -0)) s = "-0.0";
  return `f32(${s})`;
}

/** Workgroup counts (x, y) covering `n` invocations of `wg` each, folded past 65,535. */
export function grid(n: number, wg = WG): [number, number] {
  const groups = Math.max(1, Math.ceil(n / wg));
  const x = Math.min(groups, 65535);
  return [x, Math.ceil(groups / x)];
}

/** The WGSL entry-point header of a 1-D kernel: `i` is the flat invocation index. */
export function main1d(n: number, wg = WG): string {
  return `@compute @workgroup_size(${wg})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * ${wg}u;
  if (i >= ${n}u) { return; }`;
}

/**
 * Elements an invocation of a streaming kernel takes, one after another (`mainEach`): 8 on
 * Mesa's software adapters, where the index arithmetic of each invocation (division and
 * remainder by the shape) weighs as much as its memory traffic (measured on lavapipe: batch
 * norm's normalisation and input gradient 25–30% faster than with one; Adam's update, bound
 * by its seven accesses an element, unchanged); 1 on GPUs, whose neighbouring invocations must
 * read neighbouring addresses.
 */
export function perInvocation(): number {
  return gpu().variant === "cpu" ? 8 : 1;
}

/**
 * The header of a 1-D kernel over `n` elements, `per` (`perInvocation()`) of them an
 * invocation: it opens a loop in which \`i\` is the element's index (< n); close it with
 * \`}\` before the function's own. Dispatch it with `grid(Math.ceil(n / per))`.
 */
export function mainEach(n: number, per: number, wg = WG): string {
  if (per === 1) {
    return `${main1d(n, wg)}
  {`;
  }
  return `@compute @workgroup_size(${wg})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i0 = (gid.x + gid.y * nwg.x * ${wg}u) * ${per}u;
  for (var e = 0u; e < ${per}u; e++) {
    let i = i0 + e;
    if (i >= ${n}u) { break; }`;
}

/**
 * WGSL statements that store each `[array, value]` pair's value at index `l` of its
 * workgroup array and tree-sum the arrays over a workgroup of `wg` invocations (a power of
 * two), leaving each sum in `array[0]` (read it after one more barrier if others write).
 */
export function workgroupSum(pairs: [array: string, value: string][], wg: number, l = "l"): string {
  return `${pairs.map(([a, v]) => `  ${a}[${l}] = ${v};`).join("\n")}
  workgroupBarrier();
  for (var k = ${wg / 2}u; k > 0u; k = k >> 1u) {
    if (${l} < k) { ${pairs.map(([a]) => `${a}[${l}] = ${a}[${l}] + ${a}[${l} + k];`).join(" ")} }
    workgroupBarrier();
  }`;
}

/** Storage binding declarations, in order, for `names` (the last `writes` are read_write). */
export function decls(names: string[], writes = 1, type = "f32"): string {
  return names.map((n, k) =>
    `@group(0) @binding(${k}) var<storage, ${
      k >= names.length - writes ? "read_write" : "read"
    }> ${n}: array<${type}>;`
  ).join("\n");
}

/** Dispatches `code` with the tensors' buffers bound in order. */
export function run(
  code: string,
  bindings: (Tensor | Bindable)[],
  workgroups: [number, number?, number?],
): void {
  const g = gpu();
  g.dispatch(
    code,
    bindings.map((b) =>
      b instanceof GPUTextureView || !("shape" in b)
        ? b
        : { buffer: b.buffer, offset: 0, size: Math.max(4, b.bytes) }
    ),
    workgroups,
  );
}

/** Row-major strides of a shape. */
export function strides(shape: readonly number[]): number[] {
  const s = new Array(shape.length).fill(1);
  for (let d = shape.length - 2; d >= 0; d--) s[d] = s[d + 1] * shape[d + 1];
  return s;
}

/** Normalises a possibly negative axis. */
export function axisOf(axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) throw new Error(`axis ${axis} out of range for rank ${rank}`);
  return a;
}

/** Throws unless `bytes` fits in one storage binding (for kernels that do not split). */
export function fitsBinding(what: string, bytes: number): void {
  const max = gpu().maxBindingBytes;
  if (bytes > max) {
    throw new Error(
      `${what}: ${bytes} bytes exceed one storage binding (${max}); this op does not split`,
    );
  }
}
