/**
 * The from-scratch scene network a practitioner trained on the Intel images (86.6% test
 * accuracy): three Conv 5×5 → BatchNorm2d → ReLU → AvgPool(3, 3) blocks (64, 32, 16
 * filters; 150 → 48 → 14 → 3), Flatten (144) → Linear(144, 4000) → BN1d → ReLU → Dropout →
 * Linear(4000, 4000) → BN1d → ReLU → Dropout → Linear(4000, 1000) → BN1d → ReLU →
 * Linear(1000, 6) → LogSoftmax; NLL loss, Adam. With no flags it runs on the fixtures.
 */
import { initGpu } from "../core/gpu.ts";
import { nll } from "../core/ops/loss.ts";
import { definePipeline } from "../pipeline.ts";
import { dropoutGenerators, sceneCnn } from "./nets.ts";
export { dropoutGenerators, sceneCnn };
import { fit } from "../stages/fit.ts";
import { openImageData } from "../stages/image_data.ts";
import { checkTraining, runGrid, runOptimizer, trainingOptions } from "../stages/runs.ts";

export default definePipeline({
  name: "custom_cnn",
  description: "The from-scratch scene CNN (3 conv5+BN+avgpool blocks, FC 4000-4000-1000).",
  options: {
    ...trainingOptions({
      data: "fixtures/intel",
      epochs: 2,
      lr: 1e-3,
      batchSize: 16,
      out: "runs/custom_cnn",
    }),
    dropout: { type: "number", default: 0.5, help: "dropout probability of the head" },
  },
  async run(o) {
    checkTraining(o);
    await initGpu();
    const data = openImageData({
      root: o.data as string,
      seed: o.seed as number,
      strict: o.strict as boolean,
      augment: { hflip: 0.5 },
    });
    try {
      await runGrid(
        o,
        ["lr", "batchSize", "weightDecay", "optimizer", "seed", "dropout"],
        async (r) => {
          const seed = r.options.seed as number, bs = r.options.batchSize as number;
          const model = sceneCnn(data.classes.length, seed, r.options.dropout as number);
          const optimizer = runOptimizer(model.namedParameters(), r.options);
          try {
            return await fit({
              run: r.name,
              runDir: r.dir,
              csvPath: r.csvPath,
              model,
              loss: nll,
              optimizer,
              train: (epoch) => data.train(epoch, bs),
              test: () => data.test(bs),
              stepsPerEpoch: Math.ceil(data.dataset.train.length / bs),
              classes: data.classes,
              epochs: r.options.epochs as number,
              hparams: r.hparams,
              generators: dropoutGenerators(model),
              resume: r.options.resume as string | undefined,
              grid: r.grid,
            });
          } finally {
            optimizer.dispose();
            model.dispose();
          }
        },
      );
    } finally {
      data.close();
    }
    if (data.report.skipped.length) {
      console.log(
        `${data.report.skipped.length} unusable file(s) were skipped (see warnings above)`,
      );
    }
  },
});
