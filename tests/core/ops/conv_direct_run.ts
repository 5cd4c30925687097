/**
 * Shared by the direct-convolution tests that compare two kernel settings bit for bit: one
 * forward + backward of seeded inputs, with a look at each product kernel dispatched.
 */
import { backward } from "../../../core/autograd.ts";
import { gpu } from "../../../core/gpu.ts";
import { conv2d, conv2dMaxPool2, type Conv2dOpOptions } from "../../../core/ops/conv.ts";
import { convGeometry } from "../../../core/ops/conv_ref.ts";
import { mul } from "../../../core/ops/elementwise.ts";
import { sum } from "../../../core/ops/reduce.ts";
import { Rng } from "../../../core/random.ts";
import { fromArray, type Tensor, tidy } from "../../../core/tensor.ts";

/**
 * The output and the input, weight and bias gradients of conv2d (or, with `pool`,
 * `conv2dMaxPool2`) on inputs drawn from `seed`, backward from a seeded output gradient;
 * `watch` gets the WGSL of every product kernel (forward and input gradient) recorded.
 */
export async function convRun(
  x: number[],
  w: number[],
  opts: Conv2dOpOptions,
  o: { seed: number; pool?: boolean; watch: (code: string) => void },
): Promise<Float32Array[]> {
  const rng = new Rng(o.seed);
  const gen = (shape: readonly number[]) =>
    fromArray(
      Float32Array.from({ length: shape.reduce((p, d) => p * d, 1) }, () => rng.uniform(-1, 1)),
      [...shape],
    );
  const xt = gen(x), wt = gen(w), bt = gen([convGeometry(x, w, opts).Cout]);
  for (const t of [xt, wt, bt]) t.requiresGrad = true;
  const hook = gpu().setHook({
    dispatch: (d) => {
      if (d.code.includes("var WT")) o.watch(d.code);
      return undefined;
    },
    command: () => {},
    beforeSubmit: () => {},
  });
  const conv = (): Tensor => o.pool ? conv2dMaxPool2(xt, wt, bt, opts)! : conv2d(xt, wt, bt, opts);
  const y = tidy(() => {
    const y = conv();
    backward(sum(mul(y, gen(y.shape))));
    return y.detach();
  });
  gpu().setHook(hook);
  const out = await Promise.all([y, xt.grad!, wt.grad!, bt.grad!].map((t) => t.data()));
  for (const t of [xt, wt, bt, y]) (t.grad?.dispose(), t.dispose());
  return out;
}
