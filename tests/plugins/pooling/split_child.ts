/**
 * Run by split_test.ts with WEBGPU_MAX_BINDING_BYTES lowered: every pooling op on an input
 * larger than one storage binding (processed in chunks of planes), forward against the
 * float64 reference and the gradient of each plane against a directional finite
 * difference of that plane's reference. Prints the worst errors and the shapes as JSON.
 */
import { backward } from "../../../core/autograd.ts";
import { gpu, initGpu } from "../../../core/gpu.ts";
import { Rng } from "../../../core/random.ts";
import { fromArray, type Tensor, tidy } from "../../../core/tensor.ts";
import { adaptiveAvgPool2d } from "../../../plugins/pooling/adaptive.ts";
import { avgPool2d } from "../../../plugins/pooling/average.ts";
import { lpPool2d } from "../../../plugins/pooling/lp.ts";
import { maxPool2d } from "../../../plugins/pooling/max.ts";
import { adaptiveRef, avgRef, lpRef, maxRef } from "./ref.ts";

await initGpu();
const rng = new Rng(11);
const S = [4, 150, 7, 9]; // 600 planes of 252 bytes: 151,200 bytes
const n = S.reduce((a, b) => a * b, 1), planes = S[0] * S[1], per = S[2] * S[3];
const X = Float64Array.from(Float32Array.from({ length: n }, () => rng.uniform(-2, 2)));
const V = Float64Array.from({ length: n }, () => rng.uniform(-1, 1));

const ops: [string, (x: Tensor) => Tensor, (x: Float64Array) => Float64Array][] = [
  [
    "max k3 s2 p1",
    (x) => maxPool2d(x, { kernel: 3, stride: 2, padding: 1 }),
    (x) => maxRef(x, S, { k: [3, 3], s: [2, 2], p: [1, 1, 1, 1] }).y,
  ],
  [
    "avg k2 ceil",
    (x) => avgPool2d(x, { kernel: 2, ceilMode: true }),
    (x) => avgRef(x, S, { k: [2, 2], s: [2, 2], ceil: true }, true).y,
  ],
  [
    "l2 k2 s1",
    (x) => lpPool2d(x, { kernel: 2, stride: 1 }),
    (x) => lpRef(x, S, { k: [2, 2], s: [1, 1] }, 2).y,
  ],
  ["adaptive 7×9 → 4×4", (x) => adaptiveAvgPool2d(x, 4), (x) => adaptiveRef(x, S, [4, 4])],
];

const errs: Record<string, { fwd: number; grad: number }> = {};
for (const [name, op, ref] of ops) {
  const want = ref(X);
  const R = Float32Array.from({ length: want.length }, () => rng.uniform(-1, 1));
  const x = fromArray(Float32Array.from(X), S);
  x.requiresGrad = true;
  const y = tidy(() => {
    const y = op(x);
    backward(y, fromArray(R, y.shape));
    return y;
  });
  const got = await y.data(), dx = await x.grad!.data();
  let fwd = 0;
  for (let i = 0; i < want.length; i++) fwd = Math.max(fwd, Math.abs(got[i] - want[i]));
  // per plane: Σ dx·v against (L(x + hv) − L(x − hv)) / 2h, L = Σ R·ref over that plane
  const h = 1e-5, oper = want.length / planes;
  const up = ref(X.map((v, i) => v + h * V[i])), dn = ref(X.map((v, i) => v - h * V[i]));
  let grad = 0;
  for (let p = 0; p < planes; p++) {
    let a = 0, fd = 0;
    for (let i = p * per; i < (p + 1) * per; i++) a += dx[i] * V[i];
    for (let o = p * oper; o < (p + 1) * oper; o++) fd += (R[o] * (up[o] - dn[o])) / (2 * h);
    grad = Math.max(grad, Math.abs(a - fd) / Math.max(1, Math.abs(fd)));
  }
  errs[name] = { fwd, grad };
  x.grad!.dispose();
  x.dispose();
  y.dispose();
}
// How many dispatches one forward takes (chunks of 256 planes: 3).
const x = fromArray(Float32Array.from(X), S);
const d0 = gpu().stats().dispatches;
maxPool2d(x, { kernel: 2 }).dispose();
const chunks = gpu().stats().dispatches - d0;
x.dispose();
console.log(
  JSON.stringify({ maxBindingBytes: gpu().maxBindingBytes, inputBytes: n * 4, chunks, errs }),
);
