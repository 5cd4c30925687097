/**
 * The worked example of gradient descent: y ≈ w1·x1 + w2·x2 + b on six points, weights
 * and bias from 0, full-batch gradient descent on the mean-square error, on the GPU.
 * With lr 0.01 it converges; above about 0.0203 it diverges, and the run stops at the
 * first non-finite loss.
 */
import { backward } from "../core/autograd.ts";
import { initGpu } from "../core/gpu.ts";
import { Linear } from "../core/nn/linear.ts";
import { SGD } from "../plugins/optimizers/sgd.ts";
import { mse } from "../core/ops/loss.ts";
import { fromArray, tidy } from "../core/tensor.ts";
import { definePipeline, TrainingError } from "../training/pipeline.ts";

const X1 = [3, 8, 8, 3, 1, 4], X2 = [3, 6, 1, 4, 6, 9], Y = [27, 68, 58, 29, 19, 46];

export default definePipeline({
  name: "linear_regression",
  description: "Linear regression on six points by full-batch gradient descent (MSE).",
  options: {
    lr: { type: "number", default: 0.01, help: "learning rate" },
    epochs: { type: "number", default: 50, help: "epochs of full-batch gradient descent" },
  },
  async run(o) {
    const lr = o.lr, epochs = o.epochs;
    await initGpu();
    const x = fromArray(X1.flatMap((v, i) => [v, X2[i]]), [6, 2]).keep();
    const y = fromArray(Y, [6, 1]).keep();
    const model = new Linear(2, 1, { zeroInit: true });
    const opt = new SGD(model.parameters(), lr);
    let last = NaN;
    for (let epoch = 1; epoch <= epochs; epoch++) {
      const loss = tidy(() => {
        const l = mse(model.forward(x), y);
        backward(l);
        opt.step();
        opt.zeroGrad();
        return l;
      });
      last = await loss.item();
      loss.dispose();
      if (!Number.isFinite(last)) {
        throw new TrainingError(
          `loss became ${last} in epoch ${epoch}: the learning rate ${lr} is too high ` +
            `(plain gradient descent on these data is stable only below about 0.0203)`,
        );
      }
      console.log(`epoch ${String(epoch).padStart(3)}  loss ${last.toFixed(5)}`);
    }
    const [w1, w2] = await model.weight.data();
    const [b] = await model.bias!.data();
    const f = (v: number) => v.toFixed(5);
    console.log(`final w1=${f(w1)} w2=${f(w2)} b=${f(b)} loss=${f(last)}`);
  },
});
