/**
 * Softmax and log-softmax along an axis, numerically stable (the row maximum is
 * subtracted first), with their gradients:
 *   softmax:     dx = y · (g − Σ g·y)
 *   log-softmax: dx = g − eʸ · Σ g
 */
import { record } from "../tape.ts";
import { empty, type Tensor } from "../tensor.ts";
import { axisOf, decls, fitsBinding, grid, main1d, run } from "./kernel.ts";

/** [outer, length, inner] around `axis`. */
function split(shape: readonly number[], axis: number): [number, number, number] {
  const outer = shape.slice(0, axis).reduce((p, d) => p * d, 1);
  const inner = shape.slice(axis + 1).reduce((p, d) => p * d, 1);
  return [outer, shape[axis], inner];
}

/** A per-row kernel: `body` sees `L`, `inner`, `base` and reads rows with `at(j)`. */
function rowKernel(names: string[], shape: readonly number[], axis: number, body: string): string {
  const [outer, L, inner] = split(shape, axis);
  return `${decls(names)}
fn at(base: u32, j: u32) -> u32 { return base + j * ${inner}u; }
${main1d(outer * inner, 64)}
  let base = (i / ${inner}u) * ${L * inner}u + (i % ${inner}u);
  let L = ${L}u;
${body}
}`;
}

const FORWARD = (log: boolean) => `
  var m = x[base];
  for (var j = 1u; j < L; j++) { m = max(m, x[at(base, j)]); }
  var s = 0.0;
  for (var j = 0u; j < L; j++) { s = s + exp(x[at(base, j)] - m); }
  ${
  log
    ? "let ls = log(s);\n  for (var j = 0u; j < L; j++) { let k = at(base, j); y[k] = x[k] - m - ls; }"
    : "for (var j = 0u; j < L; j++) { let k = at(base, j); y[k] = exp(x[k] - m) / s; }"
}`;

const BACKWARD = (log: boolean) => `
  var s = 0.0;
  for (var j = 0u; j < L; j++) { let k = at(base, j); s = s + ${log ? "g[k]" : "g[k] * y[k]"}; }
  for (var j = 0u; j < L; j++) {
    let k = at(base, j);
    dx[k] = ${log ? "g[k] - exp(y[k]) * s" : "y[k] * (g[k] - s)"};
  }`;

/** Log-softmax outputs whose node was recorded, with the axis (for `nllLoss`). */
const logSoftmaxAxis = new WeakMap<Tensor, number>();

/**
 * When `t` is the recorded output of `logSoftmax(x, axis)`, x (the alias its autograd node
 * keeps: x itself may already be released) and the resolved axis; `nllLoss` then
 * differentiates the pair in one kernel.
 */
export function logSoftmaxSource(t: Tensor): { x: Tensor; axis: number } | undefined {
  const axis = logSoftmaxAxis.get(t), node = t.node;
  if (axis === undefined || !node || node.saved.length === 0) return undefined;
  return { x: node.saved[0], axis };
}

function softmaxOp(name: string, x: Tensor, axis: number, log: boolean): Tensor {
  fitsBinding(name, x.bytes);
  const ax = axisOf(axis, x.shape.length);
  const [outer, , inner] = split(x.shape, ax);
  const rows = outer * inner;
  const y = empty(x.shape);
  run(rowKernel(["x", "y"], x.shape, ax, FORWARD(log)), [x, y], grid(rows, 64));
  const out = record(name, y, [x], (g, [, sy]) => {
    const dx = empty(x.shape);
    run(rowKernel(["g", "y", "dx"], x.shape, ax, BACKWARD(log)), [g, sy, dx], grid(rows, 64));
    return [dx];
  }, [y]);
  if (log && out.node) logSoftmaxAxis.set(out, ax);
  return out;
}

/** Softmax along `axis` (default: the last). */
export function softmax(x: Tensor, axis = -1): Tensor {
  return softmaxOp("softmax", x, axis, false);
}

/** Log-softmax along `axis` (default: the last). */
export function logSoftmax(x: Tensor, axis = -1): Tensor {
  return softmaxOp("logSoftmax", x, axis, true);
}
