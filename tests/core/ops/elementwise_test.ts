import * as E from "../../../core/ops/elementwise.ts";
import { full } from "../../../core/ops/raw.ts";
import { checkOp, ODD, type Ref } from "./check.ts";
import type { Tensor } from "../../../core/tensor.ts";

const map1 = (f: (a: number) => number): Ref => ([a]) => a.map(f);

/** Broadcast reference: out shape from NumPy rules, f applied per element. */
function map2(f: (a: number, b: number) => number): Ref {
  return ([a, b], [sa, sb]) => {
    const n = Math.max(sa.length, sb.length);
    const pa = [...Array(n - sa.length).fill(1), ...sa],
      pb = [...Array(n - sb.length).fill(1), ...sb];
    const so = pa.map((d, k) => Math.max(d, pb[k]));
    const size = so.reduce((p, d) => p * d, 1);
    const out = new Float64Array(size);
    const idx = (p: number[], i: number) => {
      let off = 0, mul = 1;
      for (let d = n - 1, r = i; d >= 0; d--) {
        const c = r % so[d];
        r = Math.floor(r / so[d]);
        if (p[d] !== 1) off += c * mul;
        mul *= p[d];
      }
      return off;
    };
    for (let i = 0; i < size; i++) out[i] = f(a[idx(pa, i)], b[idx(pb, i)]);
    return out;
  };
}

const awayFromZero = (r: { uniform(a: number, b: number): number; next(): number }) =>
  (r.next() < 0.5 ? -1 : 1) * r.uniform(0.1, 2);
const positive = (r: { uniform(a: number, b: number): number }) => r.uniform(0.2, 3);

const unaries: [string, (a: Tensor) => Tensor, (a: number) => number, typeof awayFromZero?][] = [
  ["neg", E.neg, (a) => -a],
  ["square", E.square, (a) => a * a],
  ["abs", E.abs, Math.abs, awayFromZero],
  ["exp", E.exp, Math.exp],
  ["log", E.log, Math.log, positive],
  ["sqrt", E.sqrt, Math.sqrt, positive],
  ["relu", E.relu, (a) => Math.max(a, 0), awayFromZero],
  ["step", E.step, (a) => (a > 0 ? 1 : 0), awayFromZero],
  ["sigmoid", E.sigmoid, (a) => 1 / (1 + Math.exp(-a))],
  ["tanh", E.tanh, Math.tanh],
  ["atan", E.atan, Math.atan],
  ["addScalar", (a) => E.add(a, 1.5), (a) => a + 1.5],
  ["subScalar", (a) => E.sub(a, 0.25), (a) => a - 0.25],
  ["mulScalar", (a) => E.mul(a, -3), (a) => -3 * a],
  ["divScalar", (a) => E.div(a, 7), (a) => a / 7],
  ["rsub", (a) => E.rsub(1, a), (a) => 1 - a],
  ["pow 3 (negative bases)", (a) => E.pow(a, 3), (a) => a ** 3],
  ["pow 2", (a) => E.pow(a, 2), (a) => a ** 2],
  ["pow -1", (a) => E.pow(a, -1), (a) => 1 / a, awayFromZero],
  ["pow 0.5", (a) => E.pow(a, 0.5), Math.sqrt, positive],
];

// Sizes that are a multiple of 4 take the vec4 kernel (raw.ts), the odd ones the scalar one.
const SIZES = [...ODD, 12, 260];
for (const [name, op, f, gen] of unaries) {
  Deno.test(`${name}: forward and gradient on sizes ${SIZES}`, async () => {
    for (const n of SIZES) await checkOp(op, map1(f), [[n]], { gen });
  });
}

const binaries: [string, (a: Tensor, b: Tensor) => Tensor, (a: number, b: number) => number][] = [
  ["add", E.add, (a, b) => a + b],
  ["sub", E.sub, (a, b) => a - b],
  ["mul", E.mul, (a, b) => a * b],
  ["div", E.div, (a, b) => a / b],
  ["pow", E.pow, (a, b) => a ** b],
];
const shapePairs = [
  [[7], [7]],
  [[63, 65], [63, 65]],
  [[65, 7], [7]],
  [[7, 1], [1, 63]],
  [[3, 1, 5], [7, 1]],
  [[1], [257]],
  [[257], []],
  [[12, 20], [12, 20]], // vec4: both full-size
  [[260], []], // vec4: one scalar
  [[20], [1]],
];

for (const [name, op, f] of binaries) {
  Deno.test(`${name}: forward and gradients with broadcasting`, async () => {
    for (const shapes of shapePairs) {
      const gen = name === "pow" || name === "div"
        ? (r: { uniform(a: number, b: number): number }, k: number) =>
          k === 0 || name === "div" ? r.uniform(0.5, 2) : r.uniform(-2, 2)
        : undefined;
      await checkOp(op, map2(f), shapes, { gen });
    }
  });
}

Deno.test("expand: broadcast copy sums its gradient back", async () => {
  await checkOp((a) => E.expand(a, [5, 7, 63]), ([a]) => {
    const out = new Float64Array(5 * 7 * 63);
    for (let i = 0; i < out.length; i++) out[i] = a[Math.floor(i / 63) % 7];
    return out;
  }, [[7, 1]]);
});

Deno.test("full (raw.ts): a constant tensor", async () => {
  await checkOp(() => full([65], 2.5), () => new Float64Array(65).fill(2.5), []);
});
