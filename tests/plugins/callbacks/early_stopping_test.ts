import { assert, assertEquals, assertRejects } from "../../assert.ts";
import { initGpu } from "../../../core/gpu.ts";
import { BatchNorm1d } from "../../../core/nn/batchnorm.ts";
import { Linear } from "../../../core/nn/linear.ts";
import { Sequential } from "../../../core/nn/sequential.ts";
import type { StateDict } from "../../../core/nn/module.ts";
import { fromArray } from "../../../core/tensor.ts";
import { create, names } from "../../../plugins/registry.ts";
import { EarlyStopping } from "../../../plugins/callbacks/index.ts";
import "../../../plugins/callbacks/index.ts";

const METRICS = ["loss", "val_loss", "val_acc"];

Deno.test("early_stopping: a monitored metric that does not exist is an error at start listing those that do", async () => {
  assert(names("callback").includes("early_stopping"));
  const es = create<EarlyStopping>("callback", "early_stopping", {
    monitor: "val_accuracy",
    restoreBest: false,
  });
  await assertRejects(
    () => es.start(METRICS),
    /monitored metric "val_accuracy" does not exist; available metrics: loss, val_loss, val_acc/,
  );
  // A sample metrics record works too, and update() checks again.
  const ok = new EarlyStopping({ monitor: "val_acc", restoreBest: false });
  ok.start({ loss: 0, val_loss: 0, val_acc: 0 });
  await assertRejects(() => ok.update({ loss: 1 }), /available metrics: loss/);
  await assertRejects(
    () => new EarlyStopping({ restoreBest: false }).update({ val_loss: 1 }),
    /start\(\) before/,
  );
  // The default monitor is the name fit reports, so a default EarlyStopping works under fit.
  const dflt = new EarlyStopping({ restoreBest: false });
  assertEquals(dflt.monitor, "TestLoss");
  dflt.start({ TrainLoss: 0, TrainAccuracy: 0, TestLoss: 0, TestAccuracy: 0 });
  await assertRejects(
    () => create("callback", "early_stopping", { patiance: 2 }),
    /unknown option "patiance"/,
  );
  await assertRejects(
    () => new EarlyStopping({ mode: "up" as "min" }),
    /mode must be "min" or "max"/,
  );
  await assertRejects(
    () => new EarlyStopping({ monitor: "val_loss" }).start(METRICS),
    /needs the model/,
  );
});

Deno.test("early_stopping: mode min / max, patience, min_delta", () => {
  const run = (opts: ConstructorParameters<typeof EarlyStopping>[0], values: number[]) => {
    const es = new EarlyStopping({ ...opts, restoreBest: false });
    es.start(["m"]);
    for (const [k, v] of values.entries()) if (es.update({ m: v })) return { stopAt: k, es };
    return { stopAt: -1, es };
  };
  // min, patience 2: best 0.5 at epoch 1, two epochs without improvement → stop at epoch 3.
  let r = run({ monitor: "m", patience: 2 }, [1, 0.5, 0.6, 0.55, 0.1]);
  assertEquals([r.stopAt, r.es.best, r.es.bestEpoch], [3, 0.5, 1]);
  // min_delta 0.1: 0.45 is not enough of an improvement on 0.5.
  r = run({ monitor: "m", patience: 2, minDelta: 0.1 }, [0.5, 0.45, 0.42, 0.3]);
  assertEquals([r.stopAt, r.es.best, r.es.bestEpoch], [2, 0.5, 0]);
  // max mode (accuracy): rises, then plateaus.
  r = run({ monitor: "m", mode: "max", patience: 3 }, [
    0.5,
    0.7,
    0.8,
    0.8,
    0.79,
    0.81,
    0.6,
    0.6,
    0.6,
  ]);
  assertEquals([r.stopAt, r.es.best, r.es.bestEpoch], [8, 0.81, 5]);
  // patience 0 stops at the first epoch without improvement; NaN never improves.
  r = run({ monitor: "m", patience: 0 }, [1, 0.9, NaN]);
  assertEquals([r.stopAt, r.es.best], [2, 0.9]);
  // No stop while improving.
  r = run({ monitor: "m", patience: 1 }, [5, 4, 3, 2, 1]);
  assertEquals(r.stopAt, -1);
  // State round trip.
  const a = new EarlyStopping({ monitor: "m", patience: 2, restoreBest: false });
  a.start(["m"]);
  a.update({ m: 1 });
  a.update({ m: 2 });
  const b = new EarlyStopping({ monitor: "m", patience: 2, restoreBest: false });
  b.start(["m"]);
  b.setState(a.state());
  assertEquals(b.update({ m: 3 }), true);
  assertEquals(b.state(), { epoch: 3, best: 1, bestEpoch: 0, wait: 2, stopped: true });
});

Deno.test("early_stopping: keeps the best weights (and buffers) on the GPU and restores them on stop", async () => {
  await initGpu();
  const net = new Sequential(new Linear(2, 3, { seed: 1 }), new BatchNorm1d(3));
  const es = create<EarlyStopping>("callback", "early_stopping", {
    monitor: "val_loss",
    patience: 1,
  });
  es.start(METRICS, net);
  const set = (v: number) => {
    const dict: StateDict = {};
    for (const [n, t] of [...net.namedParameters(), ...net.namedBuffers()]) {
      dict[n] = { shape: [...t.shape], data: new Float32Array(t.size).fill(v) };
    }
    net.loadStateDict(dict);
  };
  set(1);
  assertEquals(es.update({ loss: 0, val_loss: 0.9, val_acc: 0 }, net), false);
  set(2);
  assertEquals(es.update({ loss: 0, val_loss: 0.5, val_acc: 0 }, net), false); // best: weights 2
  set(3);
  // A training forward changes the running statistics too; they are restored as well.
  net.forward(fromArray([1, 2, 3, 4], [2, 2])).dispose();
  assertEquals(es.update({ loss: 0, val_loss: 0.7, val_acc: 0 }, net), true);
  assert(es.stopped);
  const sd = await net.stateDict();
  for (const [n, e] of Object.entries(sd)) {
    assert(e.data.every((v) => v === 2), `${n} restored to the best epoch's values`);
  }
  assertEquals(es.bestEpoch, 1);
  es.dispose();
  net.dispose();
});
