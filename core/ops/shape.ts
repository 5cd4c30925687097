/**
 * Shape ops: reshape (a free view), transpose, slice and concat (strided copies), each
 * with its gradient.
 */
import { record } from "../tape.ts";
import { empty, sizeOf, type Tensor, zeros } from "../tensor.ts";
import { axisOf, decls, fitsBinding, grid, main1d, run, strides } from "./kernel.ts";

/** A view of `a` with a new shape of the same size; one dimension may be -1. */
export function reshape(a: Tensor, shape: readonly number[]): Tensor {
  const known = shape.filter((d) => d !== -1).reduce((p, d) => p * d, 1);
  const sh = shape.map((d) => (d === -1 ? a.size / known : d));
  if (sizeOf(sh) !== a.size || !sh.every(Number.isInteger)) {
    throw new Error(`reshape: cannot view [${a.shape}] as [${shape}]`);
  }
  if (sh.length === a.shape.length && sh.every((d, k) => d === a.shape[k])) return a;
  const y = a.alias(sh, false);
  return record("reshape", y, [a], (g) => [reshape(g, a.shape)]);
}

/**
 * Copies the elements of a `shape`-sized block: source offset `srcBase + Σ cᵢ·srcStrides[i]`
 * to destination offset `dstBase + Σ cᵢ·dstStrides[i]` for every coordinate c.
 */
export function stridedCopy(
  src: Tensor,
  srcBase: number,
  srcStrides: number[],
  dst: Tensor,
  dstBase: number,
  dstStrides: number[],
  shape: readonly number[],
): void {
  const n = sizeOf(shape);
  if (n === 0) return;
  fitsBinding("strided copy", Math.max(src.bytes, dst.bytes));
  const os = strides(shape);
  const coord = (d: number) => (d === 0 ? `(i / ${os[0]}u)` : `((i / ${os[d]}u) % ${shape[d]}u)`);
  const off = (base: number, st: number[]) =>
    [`${base}u`, ...shape.map((_, d) => `${coord(d)} * ${st[d]}u`)].join(" + ");
  const code = `${decls(["src", "dst"])}
${main1d(n)}
  dst[${off(dstBase, dstStrides)}] = src[${off(srcBase, srcStrides)}];
}`;
  run(code, [src, dst], grid(n));
}

/** Permutes the axes of `a` (default: reverses them). */
export function transpose(a: Tensor, perm?: number[]): Tensor {
  const p = perm ?? a.shape.map((_, k) => a.shape.length - 1 - k);
  if (p.length !== a.shape.length || new Set(p).size !== p.length) {
    throw new Error(`transpose: bad permutation [${p}] for rank ${a.shape.length}`);
  }
  const shape = p.map((k) => a.shape[k]);
  const s = strides(a.shape);
  const y = empty(shape);
  stridedCopy(a, 0, p.map((k) => s[k]), y, 0, strides(shape), shape);
  const inv = p.map((_, k) => p.indexOf(k));
  return record("transpose", y, [a], (g) => [transpose(g, inv)]);
}

/** The block of `a` from `starts` (inclusive) to `ends` (exclusive) per axis (step 1). */
export function slice(a: Tensor, starts: number[], ends: number[]): Tensor {
  const shape = a.shape.map((d, k) => {
    const s = Math.min(Math.max(starts[k] ?? 0, 0), d), e = Math.min(ends[k] ?? d, d);
    return Math.max(0, e - s);
  });
  const st = a.shape.map((d, k) => Math.min(Math.max(starts[k] ?? 0, 0), d));
  const s = strides(a.shape);
  const base = st.reduce((p, v, k) => p + v * s[k], 0);
  const y = empty(shape);
  stridedCopy(a, base, s, y, 0, strides(shape), shape);
  return record("slice", y, [a], (g) => {
    const gx = zeros(a.shape);
    stridedCopy(g, 0, strides(shape), gx, base, s, shape);
    return [gx];
  });
}

/** Joins tensors along `axis` (all other dimensions equal). */
export function concat(ts: Tensor[], axis = 0): Tensor {
  const ax = axisOf(axis, ts[0].shape.length);
  for (const t of ts) {
    if (
      t.shape.length !== ts[0].shape.length ||
      t.shape.some((d, k) => k !== ax && d !== ts[0].shape[k])
    ) {
      throw new Error(`concat: [${t.shape}] does not match [${ts[0].shape}] off axis ${ax}`);
    }
  }
  const shape = [...ts[0].shape];
  shape[ax] = ts.reduce((p, t) => p + t.shape[ax], 0);
  const y = empty(shape);
  const ys = strides(shape);
  let at = 0;
  const starts: number[] = [];
  for (const t of ts) {
    starts.push(at);
    stridedCopy(t, 0, strides(t.shape), y, at * ys[ax], ys, t.shape);
    at += t.shape[ax];
  }
  return record("concat", y, ts, (g) =>
    ts.map((t, k) => {
      const s = shape.map(() => 0), e = [...shape];
      s[ax] = starts[k];
      e[ax] = starts[k] + t.shape[ax];
      return slice(g, s, e);
    }));
}
