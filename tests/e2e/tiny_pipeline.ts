/**
 * A small pipeline file of the kind a plugin author writes outside `pipelines/`: a tiny
 * CNN on the Intel-layout fixtures at 32×32, run through `fit` with the shared flags, the
 * plugin choices included (`--pooling`, `--regularizer`, `--early-stopping`, `--stage`,
 * `--logger`). The end-to-end tests drive it through `cli.ts`.
 */
import { initGpu } from "../../core/gpu.ts";
import { Flatten, LogSoftmax, ReLU } from "../../core/nn/activation.ts";
import { Conv2d } from "../../core/nn/conv.ts";
import { Dropout } from "../../core/nn/dropout.ts";
import { Linear } from "../../core/nn/linear.ts";
import { Sequential } from "../../core/nn/sequential.ts";
import { nll } from "../../core/ops/loss.ts";
import { Rng } from "../../core/random.ts";
import "../../plugins/layers/index.ts";
import "../../plugins/callbacks/index.ts";
import type { EarlyStopping } from "../../plugins/callbacks/early_stopping.ts";
import { create } from "../../plugins/registry.ts";
import { definePipeline, type Options, UsageError } from "../../training/pipeline.ts";
import { fit, MONITORED } from "../../training/fit.ts";
import { openImageData } from "../../stages/image_data.ts";
import { planRuns } from "../../training/runs.ts";
import {
  checkNumber,
  poolingOption,
  runOptimizer,
  trainingOptions,
} from "../../training/options.ts";
import { isOff, poolingFactory } from "../../training/choices.ts";
import { dataStages } from "../../training/run_plugins.ts";
import { poolOutput } from "../../models/nets.ts";

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
  if (Number(x.patience) > 0 && !isOff(x.earlyStopping as string | undefined)) {
    throw new UsageError("--patience and --early-stopping: give one of them");
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
    pooling: poolingOption("maxpool"),
  },
  async run(o) {
    const plan = await planRuns(o, {
      tracked: ["lr", "batchSize", "weightDecay", "optimizer", "seed", "pooling"],
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
      stages: dataStages(opts),
    });
    try {
      if (opts.strict) await data.checkAll();
      await plan.execute(async (r) => {
        await initGpu();
        const seed = r.options.seed, bs = r.options.batchSize;
        const rng = new Rng(seed);
        const conv = new Conv2d(3, 4, 3, { padding: 1, rng });
        const pool = poolingFactory(r.options.pooling)({ kernel: 4 });
        const [c, h, w] = poolOutput(pool, [4, 32, 32]);
        const model = new Sequential(
          conv,
          new ReLU(),
          pool,
          new Flatten(),
          new Dropout(0.25, { seed }),
          new Linear(c * h * w, data.classes.length, { rng }),
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
            earlyStopping: earlyStopping ?? r.fit.earlyStopping,
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
