/**
 * Test harness for ops: compares a GPU op's forward with a plain TypeScript float64
 * reference, and its gradient with central finite differences of that reference.
 */
import { assert } from "../../assert.ts";
import { backward } from "../../../core/autograd.ts";
import { gpu, initGpu } from "../../../core/gpu.ts";
import { mul } from "../../../core/ops/elementwise.ts";
import { sum } from "../../../core/ops/reduce.ts";
import { Rng } from "../../../core/random.ts";
import { fromArray, sizeOf, type Tensor, tidy } from "../../../core/tensor.ts";

/** A float64 reference: inputs (flat, with shapes) → flat output. */
export type Ref = (xs: Float64Array[], shapes: number[][]) => Float64Array;

/** Max |a − b| / max(|b|, floor): the normwise relative error. */
export function relErr(a: ArrayLike<number>, b: ArrayLike<number>, floor = 1e-6): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let d = 0, m = floor;
  for (let k = 0; k < a.length; k++) {
    d = Math.max(d, Math.abs(a[k] - b[k]));
    m = Math.max(m, Math.abs(b[k]));
  }
  return d / m;
}

/** Options of `checkOp`. */
export interface CheckOptions {
  /** Draws input k's values (default uniform in [-2, 2]). */
  gen?: (rng: Rng, input: number) => number;
  /** Inputs that get no gradient check (e.g. class indices). */
  noGrad?: number[];
  /** Forward tolerance (default 1e-4). */
  tol?: number;
  /** Gradient tolerance (default 1e-4). */
  gradTol?: number;
  /** Coordinates per input checked by finite differences (default 24). */
  probes?: number;
  seed?: number;
}

/**
 * Checks `op` on inputs of `shapes`: forward against `ref`, and the gradient of
 * Σ op(x)·R (random R) against central differences of the reference.
 */
export async function checkOp(
  op: (...xs: Tensor[]) => Tensor,
  ref: Ref,
  shapes: number[][],
  opts: CheckOptions = {},
): Promise<{ fwd: number; grad: number }> {
  await initGpu();
  const rng = new Rng(opts.seed ?? 1);
  const gen = opts.gen ?? ((r: Rng) => r.uniform(-2, 2));
  const xs = shapes.map((s, k) => Float64Array.from({ length: sizeOf(s) }, () => gen(rng, k)));
  // Round the inputs to f32 so the reference sees exactly what the GPU sees.
  xs.forEach((x) => x.set(Float32Array.from(x)));
  const want = ref(xs, shapes);
  const R = Float64Array.from({ length: want.length }, () => rng.uniform(-1, 1));
  const loss = (ys: Float64Array) => ys.reduce((p, y, k) => p + y * R[k], 0);
  const { out, grads } = await tidy(() => {
    const ts = xs.map((x, k) => {
      const t = fromArray(x, shapes[k]);
      t.requiresGrad = !(opts.noGrad ?? []).includes(k);
      return t;
    });
    const y = op(...ts);
    if (y.size !== want.length) throw new Error(`op gave [${y.shape}], reference ${want.length}`);
    if (ts.some((t) => t.requiresGrad)) {
      backward(sum(mul(y, fromArray(Float32Array.from(R), y.shape))));
    }
    return { out: y.detach(), grads: ts.map((t) => t.grad ? t.grad.detach() : null) };
  });
  const got = await out.data();
  const fwd = relErr(got, want);
  assert(fwd <= (opts.tol ?? 1e-4), `forward relative error ${fwd.toExponential(2)}`);
  let worst = 0;
  for (let k = 0; k < xs.length; k++) {
    if ((opts.noGrad ?? []).includes(k)) continue;
    const g = await grads[k]!.data();
    const n = xs[k].length;
    const probes = Math.min(n, opts.probes ?? 24);
    const idx = probes === n
      ? [...Array(n).keys()]
      : Array.from({ length: probes }, () => rng.int(n));
    const fd: number[] = [], at: number[] = [];
    for (const i of idx) {
      const h = 1e-4 * Math.max(1, Math.abs(xs[k][i]));
      const v = xs[k][i];
      xs[k][i] = v + h;
      const up = loss(ref(xs, shapes));
      xs[k][i] = v - h;
      const dn = loss(ref(xs, shapes));
      xs[k][i] = v;
      fd.push((up - dn) / (2 * h));
      at.push(g[i]);
    }
    // Normalise by the largest gradient of the whole input, so zeros compare sanely.
    const scale = g.reduce((m, v) => Math.max(m, Math.abs(v)), 1e-6);
    const err = Math.max(...fd.map((f, j) => Math.abs(f - at[j]))) / scale;
    worst = Math.max(worst, err);
    assert(
      err <= (opts.gradTol ?? 1e-4),
      `input ${k} gradient relative error ${err.toExponential(2)}`,
    );
  }
  out.dispose();
  for (const g of grads) g?.dispose();
  return { fwd, grad: worst };
}

/** The shapes tests run every op on: sizes that are not multiples of any tile. */
export const ODD = [1, 7, 63, 65, 257];

/** Runs `f` and counts the copies into textures it records (the texture-read routes' copies). */
export function countTextureCopies<T>(f: () => T): { value: T; copies: number } {
  let copies = 0;
  const prev = gpu().setHook({
    dispatch: () => undefined,
    command: (kind) => void (kind === "copyToTexture" && copies++),
    beforeSubmit: () => {},
  });
  try {
    return { value: f(), copies };
  } finally {
    gpu().setHook(prev);
  }
}
