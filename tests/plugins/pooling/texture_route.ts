/**
 * Runs a windowed pool's forward and backward with texture reads forced on or off
 * (`setTextureReads`), recording the WGSL of every dispatch and the buffer-to-texture copies,
 * and checks results against float64 references: shared by texture_test.ts and
 * texture_split_child.ts.
 */
import { backward } from "../../../core/autograd.ts";
import { gpu } from "../../../core/gpu.ts";
import type { DispatchHook } from "../../../core/gpu_hook.ts";
import { setTextureReads } from "../../../core/ops/texture_read.ts";
import { Rng } from "../../../core/random.ts";
import { fromArray, type Tensor, tidy } from "../../../core/tensor.ts";
import { avgPool2d } from "../../../plugins/pooling/average.ts";
import { lpPool2d } from "../../../plugins/pooling/lp.ts";
import { maxPool2d } from "../../../plugins/pooling/max.ts";
import type { WindowOptions } from "../../../plugins/pooling/window.ts";
import { type RefWindow, windowGradRef, windowRef } from "./ref.ts";

/** A pool to run: the op, its window for the references, and its float64 reduction. */
export interface PoolCase {
  name: string;
  op: (x: Tensor) => Tensor;
  w: RefWindow;
  /** The window's output from the values of its taps inside the input. */
  reduce: (vals: number[], padded: number) => number;
  /** The gradients of those taps given the window's output gradient. */
  taps: (vals: number[], padded: number, go: number) => number[];
  /** The bindings the texture route reads through textures: forward, backward. */
  reads: { fwd: string[]; bwd: string[] };
}

/** Average pooling (`includePad`: the divisor counts padding taps). */
export function avgCase(opts: WindowOptions, w: RefWindow, includePad: boolean): PoolCase {
  const div = (v: number[], padded: number) => (includePad ? padded : v.length);
  return {
    name: `avg ${JSON.stringify(opts)}${includePad ? "" : " excluding padding"}`,
    op: (x) => avgPool2d(x, { ...opts, countIncludePad: includePad }),
    w,
    reduce: (v, p) => v.reduce((a, b) => a + b, 0) / div(v, p),
    taps: (v, p, go) => v.map(() => go / div(v, p)),
    reads: { fwd: ["x"], bwd: ["g"] },
  };
}

/** Max pooling: the first maximum takes the gradient. */
export function maxCase(opts: WindowOptions, w: RefWindow): PoolCase {
  return {
    name: `max ${JSON.stringify(opts)}`,
    op: (x) => maxPool2d(x, opts),
    w,
    reduce: (v) => Math.max(...v),
    taps: (v, _p, go) => {
      const win = v.indexOf(Math.max(...v));
      return v.map((_, k) => (k === win ? go : 0));
    },
    reads: { fwd: ["x"], bwd: ["g"] },
  };
}

/** Lp pooling: (Σ|x|ᵖ)^(1/p), gradient go·sign(x)·|x|^(p−1) / y^(p−1). */
export function lpCase(opts: WindowOptions, w: RefWindow, p: number): PoolCase {
  const norm = (v: number[]) => v.reduce((a, b) => a + Math.abs(b) ** p, 0) ** (1 / p);
  return {
    name: `lp p=${p} ${JSON.stringify(opts)}`,
    op: (x) => lpPool2d(x, { ...opts, p }),
    w,
    reduce: norm,
    taps: (v, _p, go) => {
      const y = norm(v);
      return v.map((
        b,
      ) => (y > 0 ? (go * Math.sign(b) * Math.abs(b) ** (p - 1)) / y ** (p - 1) : 0));
    },
    reads: { fwd: ["x"], bwd: ["g", "x", "y"] },
  };
}

/** What one route gave: output, input gradient, the WGSL dispatched, the texture copies. */
export interface RouteResult {
  y: Float32Array;
  dx: Float32Array;
  codes: { fwd: string[]; bwd: string[] };
  copies: number;
}

/** Runs `c` forward on `X` ([shape]) and backward from `G` with texture reads `textures`. */
export async function runRoute(
  c: PoolCase,
  X: Float32Array,
  shape: number[],
  G: Float32Array,
  textures: boolean,
): Promise<RouteResult> {
  const codes = { fwd: [] as string[], bwd: [] as string[] };
  let copies = 0;
  const hook = (list: string[]): DispatchHook => ({
    dispatch: (d) => void list.push(d.code),
    command: (kind) => void (kind === "copyToTexture" && copies++),
    beforeSubmit: () => {},
  });
  const old = setTextureReads(textures);
  const x = fromArray(X, shape);
  x.requiresGrad = true;
  const prev = gpu().setHook(hook(codes.fwd));
  let y: Tensor;
  try {
    y = c.op(x);
    gpu().setHook(hook(codes.bwd));
    tidy(() => backward(y, fromArray(G, y.shape)));
  } finally {
    gpu().setHook(prev);
    setTextureReads(old);
  }
  const out = { y: await y.data(), dx: await x.grad!.data(), codes, copies };
  x.grad!.dispose();
  x.dispose();
  y.dispose();
  return out;
}

/** The first index where `a` and `b` differ in bits (or in length), or -1. */
export function firstBitDiff(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return 0;
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < ua.length; i++) if (ua[i] !== ub[i]) return i;
  return -1;
}

/** The worst |got − want| / max(1, |want|). */
export function worstError(got: Float32Array, want: Float64Array): number {
  let e = got.length === want.length ? 0 : Infinity;
  for (let i = 0; i < want.length; i++) {
    e = Math.max(e, Math.abs(got[i] - want[i]) / Math.max(1, Math.abs(want[i])));
  }
  return e;
}

/** A random input of `shape`, |x| in [0.1, 2] (away from Lp's kink at 0), and its float64. */
export function input(shape: number[], seed: number): { X: Float32Array; X64: Float64Array } {
  const rng = new Rng(seed), n = shape.reduce((a, b) => a * b, 1);
  const X = Float32Array.from(
    { length: n },
    () => (rng.next() < 0.5 ? -1 : 1) * rng.uniform(0.1, 2),
  );
  return { X, X64: Float64Array.from(X) };
}

/** Both routes of `c` on `shape`, and the float64 references' errors of the texture one. */
export async function compareRoutes(c: PoolCase, shape: number[], seed: number) {
  const { X, X64 } = input(shape, seed);
  const ref = windowRef(X64, shape, c.w, c.reduce);
  const rng = new Rng(seed + 1);
  const G = Float32Array.from({ length: ref.y.length }, () => rng.uniform(-1, 1));
  const dxRef = windowGradRef(X64, shape, c.w, Float64Array.from(G), c.taps);
  const tex = await runRoute(c, X, shape, G, true);
  const sto = await runRoute(c, X, shape, G, false);
  return {
    tex,
    sto,
    outSize: ref.y.length,
    fwdError: worstError(tex.y, ref.y),
    gradError: worstError(tex.dx, dxRef),
  };
}

/** Dispatches of `codes` that read `name` through a texture. */
export const readsThroughTexture = (codes: string[], name: string) =>
  codes.filter((c) => c.includes(`fn ${name}_at(`)).length;
