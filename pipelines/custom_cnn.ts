/**
 * The from-scratch scene network a practitioner trained on the Intel images (86.6% test
 * accuracy): three Conv 5×5 → BatchNorm2d → ReLU → AvgPool(3, 3) blocks (64, 32, 16
 * filters; 150 → 48 → 14 → 3), Flatten (144) → Linear(144, 4000) → BN1d → ReLU → Dropout →
 * Linear(4000, 4000) → BN1d → ReLU → Dropout → Linear(4000, 1000) → BN1d → ReLU →
 * Linear(1000, 6) → LogSoftmax; NLL loss, Adam. With no flags it runs one epoch on the
 * fixtures (about a minute on the CPU adapter; 75% test accuracy, against 16.7% for chance).
 * `--pooling` swaps the pooling layers for any pooling plugin (`max`, `lp:p=2`, a grid key):
 * the head's input follows the size the pool gives.
 */
import { initGpu } from "../core/gpu.ts";
import { nll } from "../core/ops/loss.ts";
import { definePipeline, type Options } from "../training/pipeline.ts";
import { exportRunModel, sceneCnn } from "../models/nets.ts";
export { sceneCnn };
import { fit } from "../training/fit.ts";
import { openImageData } from "../stages/image_data.ts";
import { planRuns } from "../training/runs.ts";
import { checkNumber, poolingOption, runOptimizer, trainingOptions } from "../training/options.ts";
import { poolingFactory } from "../training/choices.ts";
import { dataStages } from "../training/run_plugins.ts";

/** The pipeline's own range checks (the shared flags are checked by `planRuns`). */
function check(x: Options): void {
  checkNumber(x, "dropout", { min: 0, max: 1, maxOpen: true });
}

export default definePipeline({
  name: "custom_cnn",
  description: "The from-scratch scene CNN (3 conv5+BN+avgpool blocks, FC 4000-4000-1000).",
  check,
  options: {
    ...trainingOptions({
      data: "fixtures/intel",
      epochs: 1,
      lr: 1e-3,
      batchSize: 16,
      out: "runs/custom_cnn",
    }),
    dropout: { type: "number", default: 0.5, help: "dropout probability of the head" },
    pooling: poolingOption("avgpool"),
  },
  async run(o) {
    const plan = await planRuns(o, {
      tracked: ["lr", "batchSize", "weightDecay", "optimizer", "seed", "dropout", "pooling"],
      check,
    });
    const opts = plan.options;
    const data = openImageData({
      root: opts.data,
      seed: opts.seed,
      strict: opts.strict,
      exif: !opts.noExif,
      augment: { hflip: 0.5 },
      stages: dataStages(opts),
    });
    try {
      if (opts.strict) await data.checkAll();
      await plan.execute(async (r) => {
        await initGpu();
        const seed = r.options.seed, bs = r.options.batchSize;
        const pool = poolingFactory(r.options.pooling);
        const model = sceneCnn(data.classes.length, seed, r.options.dropout, pool);
        const optimizer = runOptimizer(model.namedParameters(), r.options);
        try {
          const history = await fit({
            ...r.fit,
            model,
            loss: nll,
            optimizer,
            train: (epoch) => data.train(epoch, bs),
            test: () => data.test(bs),
            stepsPerEpoch: Math.ceil(data.dataset.train.length / bs),
            classes: data.classes,
          });
          await exportRunModel(model, r.dir, [1, 3, 150, 150], data.classes);
          return history;
        } finally {
          optimizer.dispose();
          model.dispose();
        }
      }, { summary: () => data.summary() });
    } finally {
      data.close();
    }
  },
});
