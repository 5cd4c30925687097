/** Max pooling: forward against a float64 reference, gradients against finite differences. */
import { assert, assertEquals, assertRejects } from "../../assert.ts";
import { checkOp } from "../../core/ops/check.ts";
import { backward, noGrad } from "../../../core/autograd.ts";
import { gpu, initGpu } from "../../../core/gpu.ts";
import { Sequential } from "../../../core/nn/sequential.ts";
import { Flatten } from "../../../core/nn/activation.ts";
import { sum } from "../../../core/ops/reduce.ts";
import { fromArray, tidy } from "../../../core/tensor.ts";
import { MaxPool2d, maxPool2d, type MaxPoolOptions } from "../../../plugins/pooling/max.ts";
import { maxRef, type RefWindow } from "./ref.ts";

const SHAPE = [2, 3, 7, 9];

const cases: [string, MaxPoolOptions, RefWindow][] = [
  ["kernel 2 (stride = kernel)", { kernel: 2 }, { k: [2, 2], s: [2, 2] }],
  ["kernel 3 stride 2 padding 1", { kernel: 3, stride: 2, padding: 1 }, {
    k: [3, 3],
    s: [2, 2],
    p: [1, 1, 1, 1],
  }],
  ["kernel 3 stride 1 padding 2 dilation 2", { kernel: 3, stride: 1, padding: 2, dilation: 2 }, {
    k: [3, 3],
    s: [1, 1],
    p: [2, 2, 2, 2],
    d: [2, 2],
  }],
  ["kernel [3,2] stride [2,1] padding [1,0] ceil", {
    kernel: [3, 2],
    stride: [2, 1],
    padding: [1, 0],
    ceilMode: true,
  }, { k: [3, 2], s: [2, 1], p: [1, 0, 1, 0], ceil: true }],
  ["kernel 2 stride 2 ceil (odd sizes)", { kernel: 2, ceilMode: true }, {
    k: [2, 2],
    s: [2, 2],
    ceil: true,
  }],
  ["kernel 3 stride 3 padding 1 ceil dilation [1,2]", {
    kernel: 3,
    stride: 3,
    padding: 1,
    ceilMode: true,
    dilation: [1, 2],
  }, { k: [3, 3], s: [3, 3], p: [1, 1, 1, 1], ceil: true, d: [1, 2] }],
  [
    "asymmetric ONNX pads [top,left,bottom,right]",
    { kernel: 3, stride: 2, padding: [0, 1, 2, 0] },
    {
      k: [3, 3],
      s: [2, 2],
      p: [0, 1, 2, 0],
    },
  ],
  // same_upper, 7×9, k3 s2: out 4×5, total pads 2 and 2 → [1,1,1,1]
  ["padding same (upper)", { kernel: 3, stride: 2, padding: "same" }, {
    k: [3, 3],
    s: [2, 2],
    p: [1, 1, 1, 1],
  }],
  // k2 s1: total pad 1 per axis; lower puts it first
  ["padding same_lower", { kernel: 2, stride: 1, padding: "same_lower" }, {
    k: [2, 2],
    s: [1, 1],
    p: [1, 1, 0, 0],
  }],
  ["padding same_upper", { kernel: 2, stride: 1, padding: "same_upper" }, {
    k: [2, 2],
    s: [1, 1],
    p: [0, 0, 1, 1],
  }],
];

for (const [name, opts, w] of cases) {
  Deno.test(`maxPool2d ${name}: forward and gradient on [${SHAPE}]`, async () => {
    const ref = maxRef(new Float64Array(2 * 3 * 7 * 9), SHAPE, w);
    const r = await checkOp(
      (x) => {
        const y = maxPool2d(x, opts);
        assertEquals([...y.shape], ref.shape);
        return y;
      },
      ([x]) => maxRef(x, SHAPE, w).y,
      [SHAPE],
      { probes: 40 },
    );
    assert(r.fwd === 0, `max pooling is exact, got ${r.fwd}`);
  });
}

Deno.test("maxPool2d: gradient goes to the first of tied maxima", async () => {
  await initGpu();
  const x = fromArray([-5, -5, -5, -5, -1, -1, -1, -1, -7], [1, 1, 3, 3]);
  x.requiresGrad = true;
  const y = maxPool2d(x, { kernel: 2, stride: 1, padding: 1 });
  assertEquals([...y.shape], [1, 1, 4, 4]);
  backward(sum(y));
  const got = Array.from(await y.data());
  // every window holds real values only; corners see one input each
  assertEquals(got, [-5, -5, -5, -5, -5, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -7]);
  const g = Array.from(await x.grad!.data());
  // ties go to the first tap in row-major order: (0,0) wins 3 windows, (1,0) none
  assertEquals(g, [3, 1, 1, 0, 4, 2, 3, 1, 1]);
  x.grad!.dispose();
  x.dispose();
  y.dispose();
});

Deno.test("MaxPool2d in Sequential; noGrad keeps no winner map; nothing leaks", async () => {
  await initGpu();
  const net = new Sequential(new MaxPool2d({ kernel: 2 }), new Flatten());
  const x = fromArray(Float32Array.from({ length: 2 * 3 * 7 * 9 }, (_, i) => Math.sin(i)), SHAPE);
  const before = gpu().stats().liveBuffers;
  tidy(() => {
    const y = noGrad(() => net.forward(x));
    assertEquals([...y.shape], [2, 3 * 3 * 4]);
    assertEquals(gpu().stats().liveBuffers, before + 1, "only the output is allocated");
    assert(y.node === null, "no autograd node without grad");
  });
  x.requiresGrad = true;
  tidy(() => backward(sum(net.forward(x))));
  x.grad!.dispose();
  x.grad = null;
  assertEquals(gpu().stats().liveBuffers, before);
  x.dispose();
});

Deno.test("maxPool2d: bad options and inputs are clear errors", async () => {
  await initGpu();
  await assertRejects(() => new MaxPool2d({ kernel: 0 }), /kernel must be positive integers/);
  await assertRejects(
    () => new MaxPool2d({ kernel: 2, padding: "full" as "same" }),
    /unknown padding/,
  );
  const x = fromArray(new Float32Array(12), [3, 4]);
  await assertRejects(() => maxPool2d(x, { kernel: 2 }), /NCHW \(4-D\) input, got \[3,4\]/);
  const small = fromArray(new Float32Array(4), [1, 1, 2, 2]);
  await assertRejects(() => maxPool2d(small, { kernel: 3 }), /does not fit input 2×2/);
  x.dispose();
  small.dispose();
});
