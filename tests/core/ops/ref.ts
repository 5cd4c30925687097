/**
 * Plain float64 TypeScript references for the op tests: reductions, shape ops, softmax,
 * losses and matrix products. Written for clarity, not speed, and independent of the
 * GPU code (no shared helpers with core/).
 */

/** Element count of a shape. */
export function size(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** The coordinates of flat index `i` in a row-major `shape`. */
export function coords(i: number, shape: readonly number[]): number[] {
  const c = new Array(shape.length).fill(0);
  for (let d = shape.length - 1; d >= 0; d--) {
    c[d] = i % shape[d];
    i = Math.floor(i / shape[d]);
  }
  return c;
}

/** The flat row-major index of coordinates `c` in `shape`. */
export function flat(c: readonly number[], shape: readonly number[]): number {
  let i = 0;
  for (let d = 0; d < shape.length; d++) i = i * shape[d] + c[d];
  return i;
}

/** Normalises a possibly negative axis. */
export function axis(a: number, rank: number): number {
  return a < 0 ? a + rank : a;
}

/** The output shape of a reduction. */
export function reducedShape(
  shape: readonly number[],
  axes: number[],
  keepDims: boolean,
): number[] {
  const ax = axes.map((a) => axis(a, shape.length));
  const out: number[] = [];
  shape.forEach((d, k) => {
    if (!ax.includes(k)) out.push(d);
    else if (keepDims) out.push(1);
  });
  return out;
}

/** sum / mean / max of `x` (shape `shape`) over `axes` (all when undefined). */
export function reduce(
  op: "sum" | "mean" | "max",
  x: Float64Array,
  shape: readonly number[],
  axes?: number[],
): Float64Array {
  const ax = (axes ?? shape.map((_, k) => k)).map((a) => axis(a, shape.length));
  const kept = shape.map((d, k) => (ax.includes(k) ? 1 : d));
  const out = new Float64Array(size(kept)).fill(op === "max" ? -Infinity : 0);
  const count = size(shape) / size(kept);
  for (let i = 0; i < x.length; i++) {
    const c = coords(i, shape).map((v, k) => (ax.includes(k) ? 0 : v));
    const o = flat(c, kept);
    out[o] = op === "max" ? Math.max(out[o], x[i]) : out[o] + x[i];
  }
  if (op === "mean") { for (let o = 0; o < out.length; o++) out[o] /= count; }
  return out;
}

/** `x` with its axes permuted: output axis k is input axis perm[k]. */
export function transpose(x: Float64Array, shape: readonly number[], perm: number[]): Float64Array {
  const outShape = perm.map((p) => shape[p]);
  const out = new Float64Array(x.length);
  for (let o = 0; o < out.length; o++) {
    const oc = coords(o, outShape);
    const ic = new Array(shape.length);
    perm.forEach((p, k) => (ic[p] = oc[k]));
    out[o] = x[flat(ic, shape)];
  }
  return out;
}

/** The block [starts, ends) of `x` (ends clamped to the shape). */
export function slice(
  x: Float64Array,
  shape: readonly number[],
  starts: number[],
  ends: number[],
): Float64Array {
  const outShape = shape.map((d, k) => Math.min(ends[k], d) - starts[k]);
  const out = new Float64Array(size(outShape));
  for (let o = 0; o < out.length; o++) {
    const c = coords(o, outShape).map((v, k) => v + starts[k]);
    out[o] = x[flat(c, shape)];
  }
  return out;
}

/** Tensors joined along `ax`. */
export function concat(xs: Float64Array[], shapes: number[][], ax: number): Float64Array {
  const outShape = [...shapes[0]];
  outShape[ax] = shapes.reduce((p, s) => p + s[ax], 0);
  const out = new Float64Array(size(outShape));
  for (let o = 0; o < out.length; o++) {
    const c = coords(o, outShape);
    let k = 0, at = c[ax];
    while (at >= shapes[k][ax]) at -= shapes[k++][ax];
    c[ax] = at;
    out[o] = xs[k][flat(c, shapes[k])];
  }
  return out;
}

/** Softmax (or log-softmax) of `x` along `ax`, computed stably in float64. */
export function softmax(
  x: Float64Array,
  shape: readonly number[],
  ax: number,
  log: boolean,
): Float64Array {
  const a = axis(ax, shape.length);
  const out = new Float64Array(x.length);
  const L = shape[a];
  const inner = size(shape.slice(a + 1));
  const outer = size(shape.slice(0, a));
  for (let p = 0; p < outer; p++) {
    for (let q = 0; q < inner; q++) {
      const at = (j: number) => (p * L + j) * inner + q;
      let m = -Infinity;
      for (let j = 0; j < L; j++) m = Math.max(m, x[at(j)]);
      let s = 0;
      for (let j = 0; j < L; j++) s += Math.exp(x[at(j)] - m);
      for (let j = 0; j < L; j++) {
        out[at(j)] = log ? x[at(j)] - m - Math.log(s) : Math.exp(x[at(j)] - m) / s;
      }
    }
  }
  return out;
}

/** log(1 + eᶻ) without overflow. */
export function softplus(z: number): number {
  return z > 0 ? z + Math.log1p(Math.exp(-z)) : Math.log1p(Math.exp(z));
}

/**
 * NumPy's matmul of `a` and `b` with optional transposes of their last two axes: 1-D
 * operands are promoted (a row for A, a column for B) and the promoted axis is dropped
 * from the result; batch axes broadcast. Returns the data and the result's shape.
 */
export function matmul(
  a: Float64Array,
  sa: readonly number[],
  b: Float64Array,
  sb: readonly number[],
  transA = false,
  transB = false,
): { data: Float64Array; shape: number[] } {
  const A = sa.length === 1 ? [1, sa[0]] : [...sa];
  const B = sb.length === 1 ? [sb[0], 1] : [...sb];
  const ar = A[A.length - 2], ac = A[A.length - 1], br = B[B.length - 2], bc = B[B.length - 1];
  const M = transA ? ac : ar, K = transA ? ar : ac, N = transB ? br : bc;
  if ((transB ? bc : br) !== K) throw new Error(`ref matmul: [${sa}] · [${sb}]`);
  const batchA = A.slice(0, -2), batchB = B.slice(0, -2);
  const nb = Math.max(batchA.length, batchB.length);
  const pa = [...Array(nb - batchA.length).fill(1), ...batchA];
  const pb = [...Array(nb - batchB.length).fill(1), ...batchB];
  const batch = pa.map((d, k) => Math.max(d, pb[k]));
  const out = new Float64Array(size(batch) * M * N);
  for (let t = 0; t < size(batch); t++) {
    const c = coords(t, batch);
    const ta = flat(c.map((v, k) => (pa[k] === 1 ? 0 : v)), pa);
    const tb = flat(c.map((v, k) => (pb[k] === 1 ? 0 : v)), pb);
    for (let i = 0; i < M; i++) {
      for (let j = 0; j < N; j++) {
        let s = 0;
        for (let k = 0; k < K; k++) {
          const av = a[ta * ar * ac + (transA ? k * ac + i : i * ac + k)];
          const bv = b[tb * br * bc + (transB ? j * bc + k : k * bc + j)];
          s += av * bv;
        }
        out[(t * M + i) * N + j] = s;
      }
    }
  }
  const shape = [...batch, M, N];
  if (sa.length === 1) shape.splice(shape.length - 2, 1);
  if (sb.length === 1) shape.splice(shape.length - 1, 1);
  return { data: out, shape };
}
