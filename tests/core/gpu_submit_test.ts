/**
 * When a step's end submits (core/gpu_submit.ts): every step with the `"step"` policy; with
 * `"read"` only at a read, a sync, or past the caps on the pending work; `"auto"` by adapter.
 * Training gives the same bits under both policies.
 */
import { assert, assertEquals } from "../assert.ts";
import { backward } from "../../core/autograd.ts";
import { gpu, initGpu } from "../../core/gpu.ts";
import {
  MAX_PENDING_COMMANDS,
  MAX_PENDING_UPLOAD_BYTES,
  setSubmitPolicy,
  submitAtStepEnd,
} from "../../core/gpu_submit.ts";
import { elementwise } from "../../core/ops/raw.ts";
import { Linear } from "../../core/nn/linear.ts";
import { ReLU } from "../../core/nn/activation.ts";
import { Sequential } from "../../core/nn/sequential.ts";
import { mean } from "../../core/ops/reduce.ts";
import { create } from "../../plugins/registry.ts";
import type { Optimizer } from "../../plugins/optimizers/chain.ts";
import "../../plugins/optimizers/index.ts";
import { Rng } from "../../core/random.ts";
import { fromArray, tidy } from "../../core/tensor.ts";

await initGpu();

Deno.test("submit policy: auto submits each step on real GPUs, at reads on software adapters", () => {
  const old = setSubmitPolicy("auto");
  try {
    assert(submitAtStepEnd("gpu", 1, 0));
    assert(!submitAtStepEnd("cpu", 1, 0));
    assert(submitAtStepEnd("cpu", MAX_PENDING_COMMANDS, 0), "past the command cap");
    assert(submitAtStepEnd("cpu", 1, MAX_PENDING_UPLOAD_BYTES), "past the upload cap");
    setSubmitPolicy("step");
    assert(submitAtStepEnd("cpu", 1, 0));
    setSubmitPolicy("read");
    assert(!submitAtStepEnd("gpu", 1, 0));
  } finally {
    setSubmitPolicy(old);
  }
});

Deno.test("submit policy read: steps record on until a read, which sees every step's work", async () => {
  const g = gpu();
  await g.sync();
  const old = setSubmitPolicy("read");
  try {
    const t = fromArray([1, 2, 3, 4]).keep();
    const s0 = g.stats().submits;
    for (let s = 0; s < 5; s++) {
      tidy(() => {
        const u = elementwise("a + 1.0", { a: t }, t.shape);
        g.copy(u.buffer, 0, t.buffer, 0, 16);
      });
    }
    assertEquals(g.stats().submits, s0, "no submit at a step's end");
    assertEquals(Array.from(await t.data()), [6, 7, 8, 9]);
    assertEquals(g.stats().submits, s0 + 1, "the read submitted");
    t.dispose();
  } finally {
    setSubmitPolicy(old);
  }
});

Deno.test("submit policy read: a step's end submits once the pending commands pass the cap", async () => {
  const g = gpu();
  await g.sync();
  const old = setSubmitPolicy("read");
  try {
    const t = fromArray([0, 0, 0, 0]).keep();
    const s0 = g.stats().submits;
    const per = 256, steps = Math.ceil(MAX_PENDING_COMMANDS / per);
    for (let s = 0; s < steps; s++) {
      tidy(() => {
        for (let k = 0; k < per; k++) g.clear(t.buffer, 0, 16);
      });
    }
    assertEquals(g.stats().submits, s0 + 1, "the step that reached the cap submitted");
    await g.sync();
    t.dispose();
  } finally {
    setSubmitPolicy(old);
  }
});

/** Weights after 4 Adam steps of a small MLP under `policy`. */
async function train(policy: "step" | "read"): Promise<Float32Array[]> {
  const old = setSubmitPolicy(policy);
  const rng = new Rng(3);
  const net = new Sequential(new Linear(6, 5, { rng }), new ReLU(), new Linear(5, 2, { rng }));
  const opt = create<Optimizer>("optimizer", "adam", { params: net.namedParameters(), lr: 0.01 });
  const x = Float32Array.from({ length: 8 * 6 }, () => rng.uniform(-1, 1));
  for (let s = 0; s < 4; s++) {
    tidy(() => {
      backward(mean(net.forward(fromArray(x, [8, 6]))));
      opt.step();
      opt.zeroGrad();
    });
  }
  const out = await Promise.all(net.parameters().map((p) => p.data()));
  setSubmitPolicy(old);
  opt.dispose();
  net.dispose();
  return out;
}

Deno.test("submit policy: training gives the same bits whether steps submit or records run on", async () => {
  const a = await train("step"), b = await train("read");
  assertEquals(a.length, b.length);
  for (let k = 0; k < a.length; k++) assertEquals(a[k], b[k], `parameter ${k}`);
});
