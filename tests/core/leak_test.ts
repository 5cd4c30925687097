/** A long training loop must hold a flat GPU-memory footprint. */
import { assertEquals } from "../assert.ts";
import { backward } from "../../core/autograd.ts";
import { gpu, initGpu } from "../../core/gpu.ts";
import { LogSoftmax, ReLU } from "../../core/nn/activation.ts";
import { Linear } from "../../core/nn/linear.ts";
import { Sequential } from "../../core/nn/sequential.ts";
import { SGD } from "../../plugins/optimizers/sgd.ts";
import { nll } from "../../core/ops/loss.ts";
import { Rng } from "../../core/random.ts";
import { fromArray, tidy } from "../../core/tensor.ts";

Deno.test("10,000 MLP training steps keep live GPU buffers and bytes flat", async () => {
  await initGpu();
  const rng = new Rng(3);
  const model = new Sequential(
    new Linear(8, 16, { rng }),
    new ReLU(),
    new Linear(16, 4, { rng }),
    new LogSoftmax(),
  );
  const opt = new SGD(model.parameters(), 0.05);
  const x = Float32Array.from({ length: 8 * 8 }, () => rng.uniform(-1, 1));
  const y = Float32Array.from({ length: 8 }, (_, i) => i % 4);
  let first: ReturnType<typeof gpu>["stats"] extends () => infer S ? S : never;
  let firstLoss = NaN, lastLoss = NaN;
  for (let s = 1; s <= 10_000; s++) {
    const loss = tidy(() => {
      // A fresh upload every step, as a data pipeline does.
      const l = nll(model.forward(fromArray(x, [8, 8])), fromArray(y, [8]));
      backward(l);
      opt.step();
      opt.zeroGrad();
      return l;
    });
    if (s === 100 || s === 10_000) {
      const v = await loss.item();
      if (s === 100) firstLoss = v;
      else lastLoss = v;
    }
    loss.dispose();
    if (s % 500 === 0) await gpu().sync();
    if (s === 100) first = gpu().stats();
  }
  const last = gpu().stats();
  assertEquals(last.liveBuffers, first!.liveBuffers, "live buffers grew");
  assertEquals(last.liveBytes, first!.liveBytes, "live bytes grew");
  assertEquals(last.createdBuffers, first!.createdBuffers, "the pool kept creating buffers");
  assertEquals(last.pipelines, first!.pipelines, "the pipeline cache kept growing");
  if (!(lastLoss < firstLoss)) throw new Error(`loss did not fall: ${firstLoss} → ${lastLoss}`);
  model.dispose();
});
