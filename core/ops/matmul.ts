/**
 * Matrix products: batched matmul with transposed operands, and the fused linear layer
 * y = x·Wᵀ + b (optionally followed by ReLU), each with its gradient. The kernels come
 * from `matmul_wgsl.ts`, tuned per adapter kind.
 */
import { record } from "../autograd.ts";
import { gpu } from "../gpu.ts";
import { empty, type Tensor } from "../tensor.ts";
import { fitsBinding, run } from "./kernel.ts";
import { type MatmulSpec, matmulPlan } from "./matmul_wgsl.ts";
import { elementwise } from "./elementwise.ts";
import { sum } from "./reduce.ts";
import { reshape } from "./shape.ts";

/** Options of `matmul`. */
export interface MatmulOptions {
  transA?: boolean;
  transB?: boolean;
}

function dims(t: Tensor, trans: boolean): { batch: number[]; rows: number; cols: number } {
  if (t.shape.length < 1) throw new Error(`matmul: scalar operand`);
  const sh = t.shape.length === 1 ? [1, t.shape[0]] : t.shape;
  const r = sh[sh.length - 2], c = sh[sh.length - 1];
  return { batch: sh.slice(0, -2) as number[], rows: trans ? c : r, cols: trans ? r : c };
}

/** Records C = op(A)·op(B) (+ bias) (+ ReLU) into `out` with the adapter's kernel. */
function gemmInto(
  a: Tensor,
  b: Tensor,
  out: Tensor,
  spec: Omit<MatmulSpec, "variant">,
  bias?: Tensor,
): void {
  fitsBinding("matmul A", a.bytes);
  fitsBinding("matmul C", out.bytes);
  const plan = matmulPlan({ ...spec, variant: gpu().variant });
  const binds = [a.buffer, b.buffer, out.buffer];
  if (bias) binds.push(bias.buffer);
  if (b.bytes <= gpu().maxBindingBytes) {
    run(plan.code, binds, plan.workgroups);
    return;
  }
  throw new Error(
    `matmul: B of ${b.bytes} bytes exceeds one storage binding; use linear() for large weights`,
  );
}

/**
 * Batched matrix product op(A)·op(B) over the last two axes. A 2-D operand is shared by
 * every batch of the other.
 *
 * @example
 * const c = matmul(a, b, { transB: true }); // a·bᵀ
 */
export function matmul(a: Tensor, b: Tensor, opts: MatmulOptions = {}): Tensor {
  const transA = !!opts.transA, transB = !!opts.transB;
  const da = dims(a, transA), db = dims(b, transB);
  if (da.cols !== db.rows) {
    throw new Error(`matmul: [${a.shape}]${transA ? "ᵀ" : ""} · [${b.shape}]${transB ? "ᵀ" : ""}`);
  }
  const M = da.rows, K = da.cols, N = db.cols;
  const ba = da.batch.reduce((p, d) => p * d, 1), bb = db.batch.reduce((p, d) => p * d, 1);
  if (ba !== bb && ba !== 1 && bb !== 1) {
    throw new Error(`matmul: batch [${da.batch}] and [${db.batch}] differ`);
  }
  const batchShape = da.batch.length >= db.batch.length ? da.batch : db.batch;
  const batch = Math.max(ba, bb);
  const outShape = [...batchShape, M, N];
  if (a.shape.length === 1) outShape.splice(outShape.length - 2, 1);
  if (b.shape.length === 1) outShape.splice(outShape.length - 1, 1);
  const out = empty(outShape);
  gemmInto(a, b, out, {
    batch,
    M,
    N,
    K,
    transA,
    transB,
    aBatchStride: ba === 1 ? 0 : M * K,
    bBatchStride: bb === 1 ? 0 : K * N,
    bias: false,
    relu: false,
  });
  return record("matmul", out, [a, b], (g, [sa, sb]) => {
    const g3 = reshape(g, [...batchShape, M, N]);
    const a3 = sa.shape.length === 1 ? reshape(sa, [1, K]) : sa;
    const b3 = sb.shape.length === 1 ? reshape(sb, [K, 1]) : sb;
    let gA: Tensor | null = null, gB: Tensor | null = null;
    if (a.requiresGrad) {
      gA = transA
        ? (transB ? matmul(b3, g3, { transA: true, transB: true }) : matmul(b3, g3, { transB: true }))
        : (transB ? matmul(g3, b3) : matmul(g3, b3, { transB: true }));
      if (ba === 1 && batch > 1) gA = sum(gA, [...Array(gA.shape.length - 2).keys()]);
      gA = reshape(gA, a.shape);
    }
    if (b.requiresGrad) {
      gB = transB
        ? (transA ? matmul(g3, a3, { transA: true, transB: true }) : matmul(g3, a3, { transA: true }))
        : (transA ? matmul(a3, g3) : matmul(a3, g3, { transA: true }));
      if (bb === 1 && batch > 1) gB = sum(gB, [...Array(gB.shape.length - 2).keys()]);
      gB = reshape(gB, b.shape);
    }
    return [gA, gB];
  });
}

/**
 * The fully connected layer y = x·Wᵀ + b with W in PyTorch's [out, in] layout, optionally
 * fused with ReLU. x is [n, in]; bias is [out] or absent.
 */
export function linear(x: Tensor, w: Tensor, bias?: Tensor | null, relu = false): Tensor {
  const [n, k] = x.shape.length === 2 ? x.shape : [x.size / x.shape[x.shape.length - 1], x.shape[x.shape.length - 1]];
  const [m, k2] = w.shape;
  if (k !== k2) throw new Error(`linear: input [${x.shape}] does not match weight [${w.shape}]`);
  if (bias && bias.size !== m) throw new Error(`linear: bias [${bias.shape}] for ${m} outputs`);
  const out = empty([...x.shape.slice(0, -1), m]);
  gemmInto(x, w, out, {
    batch: 1,
    M: n,
    N: m,
    K: k,
    transA: false,
    transB: true,
    aBatchStride: 0,
    bBatchStride: 0,
    bias: !!bias,
    relu,
  }, bias ?? undefined);
  const inputs = bias ? [x, w, bias] : [x, w];
  return record(relu ? "linear_relu" : "linear", out, inputs, (g, saved) => {
    const [sx, sw] = saved;
    const sy = saved[saved.length - 1];
    const g2 = reshape(relu ? elementwise("select(0.0, g, y > 0.0)", { g, y: sy }, g.shape) : g, [n, m]);
    const x2 = reshape(sx, [n, k]);
    return [
      x.requiresGrad ? reshape(matmul(g2, sw), x.shape) : null,
      w.requiresGrad ? matmul(g2, x2, { transA: true }) : null,
      bias?.requiresGrad ? sum(g2, 0) : null,
    ];
  }, [out]);
}
