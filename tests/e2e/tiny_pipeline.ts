/**
 * A small pipeline file of the kind a plugin author writes outside `pipelines/`: a tiny
 * CNN on the Intel-layout fixtures at 32×32, run through `fit` with the shared flags.
 * The end-to-end tests drive it through `cli.ts`.
 */
import { initGpu } from "../../core/gpu.ts";
import { Flatten, LogSoftmax, ReLU } from "../../core/nn/activation.ts";
import { Conv2d } from "../../core/nn/conv.ts";
import { Dropout } from "../../core/nn/dropout.ts";
import { Linear } from "../../core/nn/linear.ts";
import { Sequential } from "../../core/nn/sequential.ts";
import { nll } from "../../core/ops/loss.ts";
import { Rng } from "../../core/random.ts";
import { MaxPool2d } from "../../plugins/pooling/max.ts";
import "../../plugins/layers/index.ts";
import "../../plugins/callbacks/index.ts";
import type { EarlyStopping } from "../../plugins/callbacks/early_stopping.ts";
import { create } from "../../plugins/registry.ts";
import { definePipeline, type Options, UsageError } from "../../training/pipeline.ts";
import { fit, MONITORED } from "../../training/fit.ts";
import { openImageData } from "../../stages/image_data.ts";
import { planRuns } from "../../training/runs.ts";
import { checkNumber, runOptimizer, trainingOptions } from "../../training/options.ts";

/**
 * Test hook: with `TINY_ACCURACY_FROM_LR=1` each epoch's test accuracy is replaced by
 * `lrAccuracy(lr, epoch)`, a function of the learning rate and the epoch alone, so the
 * search tests know in advance what a pruner decides.
 */
export function lrAccuracy(lr: number, epoch: number): number {
  return Math.min(1, Math.max(0, (Math.log10(lr) + 5) / 4)) * epoch / (epoch + 1);
}
const FROM_LR = Deno.env.get("TINY_ACCURACY_FROM_LR") === "1";

/** The pipeline's own range checks (the shared flags are checked by `planRuns`). */
function check(x: Options): void {
  checkNumber(x, "patience", { min: 0, int: true });
  if (!MONITORED.includes(String(x.monitor))) {
    throw new UsageError(`--monitor ${x.monitor}: known metrics are ${MONITORED.join(", ")}`);
  }
}

export default definePipeline({
  name: "tiny",
  description: "A tiny CNN on the fixtures at 32×32 (for end-to-end tests).",
  check,
  options: {
    ...trainingOptions({
      data: "fixtures/intel",
      epochs: 3,
      lr: 3e-3,
      batchSize: 4,
      out: "runs/tiny",
    }),
    patience: { type: "number", default: 0, help: "early-stopping patience (0: off)" },
    monitor: { type: "string", default: "TestLoss", help: "early-stopping metric" },
  },
  async run(o) {
    const plan = await planRuns(o, {
      tracked: ["lr", "batchSize", "weightDecay", "optimizer", "seed"],
      check,
    });
    const opts = plan.options;
    const data = openImageData({
      root: opts.data,
      seed: opts.seed,
      size: 32,
      strict: opts.strict,
      exif: !opts.noExif,
      augment: { hflip: 0.5 },
    });
    try {
      if (opts.strict) await data.checkAll();
      await plan.execute(async (r) => {
        await initGpu();
        const seed = r.options.seed, bs = r.options.batchSize;
        const rng = new Rng(seed);
        const model = new Sequential(
          new Conv2d(3, 4, 3, { padding: 1, rng }),
          new ReLU(),
          new MaxPool2d({ kernel: 4 }),
          new Flatten(),
          new Dropout(0.25, { seed }),
          new Linear(256, data.classes.length, { rng }),
          new LogSoftmax(),
        );
        const optimizer = runOptimizer(model.namedParameters(), r.options);
        const patience = r.options.patience;
        let earlyStopping: EarlyStopping | undefined;
        try {
          earlyStopping = patience > 0
            ? create<EarlyStopping>("callback", "early_stopping", {
              monitor: r.options.monitor,
              mode: String(r.options.monitor).endsWith("Loss") ? "min" : "max",
              patience,
            })
            : undefined;
          return await fit({
            ...r.fit,
            model,
            loss: nll,
            optimizer,
            train: (epoch) => data.train(epoch, bs),
            test: () => data.test(bs),
            classes: data.classes,
            earlyStopping,
            readEvery: 2,
            onEpoch: FROM_LR
              ? (m) => void (m.test.accuracy = lrAccuracy(r.options.lr, m.epoch))
              : undefined,
          });
        } finally {
          earlyStopping?.dispose();
          optimizer.dispose();
          model.dispose();
        }
      });
    } finally {
      data.close();
    }
  },
});
