/**
 * Run by split_test.ts with WEBGPU_MAX_BINDING_BYTES lowered: exercises every path that
 * splits a tensor larger than one storage binding, and prints the errors as JSON.
 */
import { backward } from "../../core/autograd.ts";
import { gpu, initGpu } from "../../core/gpu.ts";
import { SGD } from "../../plugins/optimizers/sgd.ts";
import { add, mul } from "../../core/ops/elementwise.ts";
import { linear } from "../../core/ops/matmul.ts";
import { sum } from "../../core/ops/reduce.ts";
import { Rng } from "../../core/random.ts";
import { fromArray, tidy } from "../../core/tensor.ts";
import { relErr } from "./ops/check.ts";

await initGpu();
const rng = new Rng(5);
const n = 3, k = 100, m = 300; // W is 120,000 bytes: three 64-row blocks and a remainder
const rand = (len: number) => Float32Array.from({ length: len }, () => rng.uniform(-1, 1));
const X = rand(n * k), W = rand(m * k), B = rand(m), R = rand(n * m);
const x = fromArray(X, [n, k]), w = fromArray(W, [m, k]), b = fromArray(B, [m]);
for (const t of [x, w, b]) t.requiresGrad = true;
const y = tidy(() => {
  const y = linear(x, w, b, true);
  backward(sum(mul(y, fromArray(R, [n, m]))));
  return y;
});
// float64 reference
const Y = new Float64Array(n * m), G = new Float64Array(n * m);
for (let i = 0; i < n; i++) {
  for (let j = 0; j < m; j++) {
    let s = B[j];
    for (let q = 0; q < k; q++) s += X[i * k + q] * W[j * k + q];
    Y[i * m + j] = Math.max(s, 0);
    G[i * m + j] = s > 0 ? R[i * m + j] : 0;
  }
}
const dX = new Float64Array(n * k), dW = new Float64Array(m * k), dB = new Float64Array(m);
for (let i = 0; i < n; i++) {
  for (let j = 0; j < m; j++) {
    const g = G[i * m + j];
    dB[j] += g;
    for (let q = 0; q < k; q++) {
      dX[i * k + q] += g * W[j * k + q];
      dW[j * k + q] += g * X[i * k + q];
    }
  }
}
const errs: Record<string, number> = {
  forward: relErr(await y.data(), Y),
  dx: relErr(await x.grad!.data(), dX),
  dw: relErr(await w.grad!.data(), dW),
  db: relErr(await b.grad!.data(), dB),
};
// Elementwise over a windowed tensor, and SGD's windowed update.
const z = add(w, 2);
const Z = Float64Array.from(W, (v) => v + 2);
errs.elementwise = relErr(await z.data(), Z);
new SGD([w], 0.5).step();
const W2 = Float64Array.from(W, (v, i) => v - 0.5 * dW[i]);
errs.sgd = relErr(await w.data(), W2);
console.log(JSON.stringify({ maxBindingBytes: gpu().maxBindingBytes, weightBytes: w.bytes, errs }));
