/**
 * A small multilayer perceptron learns a nonlinear function end to end on the GPU:
 * three interleaved 2-D spirals, Linear(2,64) → ReLU → Linear(64,64) → ReLU →
 * Linear(64,3) → Softmax, trained on the cross-entropy (NLL of log-softmax) with SGD.
 */
import { backward, noGrad } from "../core/autograd.ts";
import { initGpu } from "../core/gpu.ts";
import { LogSoftmax, ReLU } from "../core/nn/activation.ts";
import { Linear } from "../core/nn/linear.ts";
import { Sequential } from "../core/nn/sequential.ts";
import { SGD } from "../plugins/optimizers/sgd.ts";
import { nll } from "../core/ops/loss.ts";
import { exp } from "../core/ops/elementwise.ts";
import { Rng } from "../core/random.ts";
import { fromArray, tidy } from "../core/tensor.ts";
import { definePipeline, TrainingError } from "../training/pipeline.ts";

/** `n` points per class on `k` noisy spiral arms: x [n·k, 2], labels [n·k]. */
export function spirals(n: number, k: number, seed: number) {
  const rng = new Rng(seed);
  const x = new Float32Array(n * k * 2), y = new Float32Array(n * k);
  for (let c = 0; c < k; c++) {
    for (let i = 0; i < n; i++) {
      const r = i / n, t = (c * 4 * Math.PI) / k + 4 * r * Math.PI / 1.5 + rng.normal() * 0.15;
      const j = c * n + i;
      x[2 * j] = r * Math.cos(t);
      x[2 * j + 1] = r * Math.sin(t);
      y[j] = c;
    }
  }
  return { x, y };
}

export default definePipeline({
  name: "spiral",
  description: "A ReLU MLP with a softmax output learns three interleaved spirals.",
  options: {
    epochs: { type: "number", default: 400, help: "full-batch epochs" },
    lr: { type: "number", default: 0.5, help: "learning rate" },
    seed: { type: "number", default: 0, help: "seed of data and initialisation" },
  },
  async run(o) {
    await initGpu();
    const { x, y } = spirals(100, 3, o.seed);
    const xs = fromArray(x, [300, 2]).keep(), ys = fromArray(y, [300]).keep();
    const rng = new Rng(o.seed);
    const model = new Sequential(
      new Linear(2, 64, { rng }),
      new ReLU(),
      new Linear(64, 64, { rng }),
      new ReLU(),
      new Linear(64, 3, { rng }),
      new LogSoftmax(),
    );
    const opt = new SGD(model.parameters(), o.lr);
    const epochs = o.epochs;
    for (let epoch = 1; epoch <= epochs; epoch++) {
      const loss = tidy(() => {
        const l = nll(model.forward(xs), ys);
        backward(l);
        opt.step();
        opt.zeroGrad();
        return l;
      });
      if (epoch % 50 === 0 || epoch === epochs) {
        const v = await loss.item();
        if (!Number.isFinite(v)) throw new TrainingError(`loss ${v} in epoch ${epoch}; lower --lr`);
        const acc = await accuracy();
        console.log(`epoch ${epoch}  loss ${v.toFixed(4)}  accuracy ${(acc * 100).toFixed(1)}%`);
      }
      loss.dispose();
    }
    async function accuracy() {
      const p = noGrad(() => tidy(() => exp(model.eval().forward(xs))));
      model.train();
      const probs = await p.data();
      p.dispose();
      let right = 0;
      for (let i = 0; i < 300; i++) {
        const row = probs.subarray(3 * i, 3 * i + 3);
        if (row.indexOf(Math.max(...row)) === y[i]) right++;
      }
      return right / 300;
    }
    const acc = await accuracy();
    console.log(`final accuracy ${(acc * 100).toFixed(1)}% (a linear model reaches about 50%)`);
  },
});
