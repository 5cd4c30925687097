/**
 * The WGSL building blocks of batch normalisation's kernels (`batchnorm.ts`): the layout of
 * [N, C, …] data, the per-channel reductions' plans and loops, and the bindings and vector
 * widths of the per-element kernels.
 *
 * @module
 */
import { TrainingError } from "../errors.ts";
import { gpu } from "../gpu.ts";
import type { Tensor } from "../tensor.ts";
import {
  grid,
  main1d,
  mainEach,
  perInvocation,
  SOFTWARE_LOOP_LIMIT,
  workgroupSum,
} from "./kernel.ts";

/**
 * Threads a channel's reduction takes: 64 on GPUs; 8 (one SIMD vector) on Mesa's software
 * adapters, which run a workgroup with barriers as one coroutine per vector of 8: measured on
 * lavapipe on the scene CNN, the backward sums took about 0.5× the time of 64 threads, the
 * statistics 0.6–0.7× (16 threads: 0.7–0.8×, 32 or 256: no better than 64).
 */
export function reduceThreads(): number {
  return gpu().variant === "cpu" ? 8 : 64;
}

export function layout(x: Tensor): { C: number; S: number; M: number } {
  if (x.shape.length < 2) {
    throw new Error(`batchNorm: input [${x.shape}] must be [N, C] or [N, C, d1, …]`);
  }
  const C = x.shape[1];
  const S = x.shape.slice(2).reduce((p, d) => p * d, 1);
  return { C, S, M: x.shape[0] * S };
}

export function checkVec(name: string, t: Tensor | null | undefined, C: number): void {
  if (t && t.size !== C) throw new Error(`batchNorm: ${name} [${t.shape}] must have ${C} values`);
}

/** A storage declaration (of vec4s with `vec`). */
export function decl(k: number, name: string, write: boolean, vec = false): string {
  return `@group(0) @binding(${k}) var<storage, ${write ? "read_write" : "read"}> ${name}: array<${
    vec ? "vec4<f32>" : "f32"
  }>;`;
}

/** WGSL for the flat index of the j-th value (0 ≤ j < M) of channel c. */
export function at(C: number, S: number): string {
  return S === 1 ? `j * ${C}u + c` : `(j / ${S}u) * ${C * S}u + c * ${S}u + j % ${S}u`;
}

/**
 * A loop of thread `l` (of T) over the M values of channel c, with `k` their flat index:
 * rows of S contiguous values when S ≥ T (no division per element), else a flat stride.
 * With `V` = 4 (rows a multiple of 4 and S/4 ≥ T) `k` indexes vec4s of a row instead.
 */
export function channelLoop(
  C: number,
  S: number,
  M: number,
  T: number,
  body: string,
  V = 1,
): string {
  if (S >= T * V) {
    return `for (var rn = 0u; rn < ${M / S}u; rn = rn + 1u) {
    for (var rs = l; rs < ${S / V}u; rs = rs + ${T}u) {
      let k = rn * ${(C * S) / V}u + c * ${S / V}u + rs;
      ${body}
    }
  }`;
  }
  return `for (var j = l; j < ${M}u; j = j + ${T}u) {
    let k = ${at(C, S)};
    ${body}
  }`;
}

/** The vector width of a per-channel reduction's loads: 4 when rows allow it. */
export function reduceWidth(S: number, p: Plan): 1 | 4 {
  return !p.perThread && S % 4 === 0 && S / 4 >= p.T ? 4 : 1;
}

/** WGSL: a zero accumulator and the sum of its components, for width V. */
export function acc(V: number): { zero: string; fold: (v: string) => string } {
  return V === 4
    ? { zero: "vec4<f32>(0.0)", fold: (v) => `(${v}.x + ${v}.y + ${v}.z + ${v}.w)` }
    : { zero: "0.0", fold: (v) => v };
}

/**
 * How a per-channel reduction runs: one workgroup of T threads per channel with a tree
 * reduction in workgroup memory (many values per channel), or one thread per channel with
 * no workgroup memory and no barriers (few values per channel, or [N, C] inputs, where
 * neighbouring threads then read neighbouring addresses).
 */
export interface Plan {
  T: number;
  perThread: boolean;
}

export function plan(S: number, M: number): Plan {
  if (S === 1 || M <= 64) return { T: 1, perThread: true };
  let T = 1;
  const max = reduceThreads();
  while (T < M && T < max) T *= 2;
  // More threads where a thread's loops would pass the software adapters' loop limit
  // (kernel.ts): the statistics run two `channelLoop`s (an odd plane of 300,001 values read
  // a wrong mean and variance with 8 threads).
  const loops = (t: number) => {
    const V = S % 4 === 0 && S / 4 >= t ? 4 : 1;
    const one = S >= t * V ? (M / S) * (Math.ceil(S / V / t) + 2) : Math.ceil(M / t) + 1;
    return 2 * (one + 1);
  };
  if (gpu().variant === "cpu") { while (T < 256 && loops(T) >= SOFTWARE_LOOP_LIMIT) T *= 2; }
  if (gpu().variant === "cpu" && loops(T) >= SOFTWARE_LOOP_LIMIT) {
    throw new TrainingError(
      `batchNorm: ${M} values a channel are more than this software adapter's loops can reduce`,
    );
  }
  return { T, perThread: false };
}

/** The kernel header: defines the channel `c` and the thread index `l` within it. */
export function channelHeader(C: number, p: Plan, arrays: string[]): string {
  if (p.perThread) {
    return `${main1d(C)}
  let c = i;
  let l = 0u;`;
  }
  return `${arrays.map((a) => `var<workgroup> ${a}: array<f32, ${p.T}>;`).join("\n")}
@compute @workgroup_size(${p.T})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) l: u32) {
  let c = wid.x + wid.y * nwg.x;
  if (c >= ${C}u) { return; }`;
}

/** Sums each thread's partial `local` over the channel's threads into `let total`. */
export function reduceTo(p: Plan, pairs: [array: string, local: string, total: string][]): string {
  if (p.perThread) return pairs.map(([, v, t]) => `  let ${t} = ${v};`).join("\n");
  return `${workgroupSum(pairs.map(([a, v]) => [a, v]), p.T)}
${pairs.map(([a, , t]) => `  let ${t} = ${a}[0];`).join("\n")}
  workgroupBarrier();`;
}

/** The dispatch size of a per-channel kernel. */
export function channelGrid(C: number, p: Plan): [number, number] {
  return p.perThread ? grid(C) : grid(C, 1);
}

/** How a binding of a per-element kernel is read: per element, per channel, out, counter. */
export type Kind = "elem" | "chan" | "out" | "count";

/**
 * The vector width of a per-element kernel over [N, C, S…] data: 4 elements an invocation
 * when planes are a multiple of 4 (one channel per vec4) or, for [N, C] data, when C is
 * (channel vectors: the per-channel values read as vec4 too), else 1. On Mesa's software
 * adapters each storage access costs about as much scalar as vec4.
 */
export function vectorOf(C: number, S: number, size: number): {
  V: number;
  chanVec: boolean;
  /** WGSL of the channel index (in channel vectors when `chanVec`). */
  channel: string;
  /** The channel count in units of the channel index. */
  C: number;
} {
  if (S > 1 && S % 4 === 0) {
    return { V: 4, chanVec: false, channel: `((i * 4u) / ${S}u) % ${C}u`, C };
  }
  if (S === 1 && C % 4 === 0 && size % 4 === 0) {
    return { V: 4, chanVec: true, channel: `i % ${C / 4}u`, C: C / 4 };
  }
  return { V: 1, chanVec: false, channel: S === 1 ? `i % ${C}u` : `(i / ${S}u) % ${C}u`, C };
}

export function vdecl(
  k: number,
  name: string,
  kind: Kind,
  v: { V: number; chanVec: boolean },
): string {
  const vec = kind === "count" ? false : kind === "chan" ? v.chanVec : v.V === 4;
  const rw = kind === "out" || kind === "count" ? "read_write" : "read";
  return `@group(0) @binding(${k}) var<storage, ${rw}> ${name}: array<${
    vec ? "vec4<f32>" : "f32"
  }>;`;
}

/**
 * The backward's per-channel sums kernel after its declarations: `body` (run for each value k
 * of channel c, with \`mean\`, \`inv\` and what `pre` defines before the loop) adds to \`s\`
 * (Σ g) and \`sx\` (Σ g·x̂); thread 0 then writes db[c] and dw[c].
 */
export function sumsMain(
  C: number,
  S: number,
  M: number,
  p: Plan,
  V: number,
  body: string,
  pre = "",
): string {
  const a = acc(V);
  return `${channelHeader(C, p, ["pg", "pgx"])}
  let mean = stats[c];
  let inv = stats[${C}u + c];${pre}
  var s = ${a.zero};
  var sx = ${a.zero};
  ${channelLoop(C, S, M, p.T, body, V)}
${reduceTo(p, [["pg", a.fold("s"), "ts"], ["pgx", a.fold("sx"), "tsx"]])}
  if (l == 0u) { db[c] = ts; dw[c] = tsx; }
}`;
}

/**
 * Values (vec4s with `V` = 4) an invocation of a per-element kernel over [N, C, S…] takes so
 * that each invocation stays within one channel's plane: the largest divisor of the plane's
 * S / V up to 128. The channel's values are then read once an invocation (`channelRuns`).
 */
export function channelRun(S: number, V: number): number {
  const n = S / V;
  let best = 1;
  for (let d = 1; d <= Math.min(128, n); d++) if (n % d === 0) best = d;
  return best;
}

/**
 * The header of a per-element kernel over `n` values (vec4s with `V` = 4) of [N, C, S…] data,
 * `per` (`channelRun`) consecutive ones an invocation: it defines the channel `c`, then
 * `hoisted` (WGSL reading the channel's values, once), then opens the loop in which `i` is
 * the value's index; close it with `}` before the function's own. Dispatch it with
 * `grid(n / per, 64)`. On software adapters a storage load costs tens of nanoseconds and
 * compilers keep loads below a store where they are written, so per-channel values read
 * inside the loop cost more than the element's own work.
 */
export function channelRuns(
  n: number,
  per: number,
  C: number,
  S: number,
  V: number,
  hoisted: string,
): string {
  return `@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i0 = (gid.x + gid.y * nwg.x * 64u) * ${per}u;
  if (i0 >= ${n}u) { return; }
  let c = (i0 / ${S / V}u) % ${C}u;
${hoisted}
  for (var e = 0u; e < ${per}u; e++) {
    let i = i0 + e;`;
}

/**
 * The header of a per-element kernel over `n` values of [N, C, S…] data laid out as `v`
 * (`vectorOf`), with `lets` (WGSL reading channel c's values into locals): channel runs
 * (`channelRuns`, the lets read once an invocation) over planes, else `mainEach` with the
 * lets read per value ([N, C] data, whose neighbouring values are other channels). Close
 * the loop with `}` before the function's own; dispatch `workgroups`.
 */
export function perElement(
  n: number,
  C: number,
  S: number,
  v: { V: number; chanVec: boolean; channel: string; C: number },
  lets: string,
): { header: string; workgroups: [number, number] } {
  if (S > 1 && !v.chanVec) {
    const per = channelRun(S, v.V);
    return { header: channelRuns(n, per, C, S, v.V, lets), workgroups: grid(n / per, 64) };
  }
  const per = perInvocation();
  return {
    header: `${mainEach(n, per)}\n    let c = ${v.channel};\n${lets}`,
    workgroups: grid(Math.ceil(n / per)),
  };
}
