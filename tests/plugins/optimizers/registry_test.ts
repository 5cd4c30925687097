/** The optimizer and regularizer plugins are registered by name and build working optimizers. */
import { assert, assertEquals, assertRejects } from "../../assert.ts";
import { create, names } from "../../../plugins/registry.ts";
import "../../../plugins/optimizers/index.ts";
import type { Link, Optimizer } from "../../../plugins/optimizers/chain.ts";
import { params, runCase, torchCase } from "./_helpers.ts";

Deno.test("registry: optimizer and gradient-regularizer plugins by name", () => {
  for (const n of ["sgd", "momentum", "nesterov", "adam", "adamw", "adagrad", "rmsprop"]) {
    assert(names("optimizer").includes(n), `optimizer ${n} missing: ${names("optimizer")}`);
  }
  for (const n of ["l2", "weight_decay", "l1", "clip_grad_norm"]) {
    assert(names("regularizer").includes(n), `regularizer ${n} missing: ${names("regularizer")}`);
    const link = create<Link>("regularizer", n, {});
    assertEquals(typeof link.update, "function");
  }
});

Deno.test("registry: every optimizer plugin trains, regularizers chain by name", async () => {
  const cases: [string, string, Record<string, unknown>][] = [
    ["sgd", "sgd", { lr: 0.1 }],
    ["sgd_l2", "sgd", { lr: 0.1, regularizers: [{ name: "l2", lambda: 0.01 }] }],
    ["momentum", "momentum", { lr: 0.05, momentum: 0.9 }],
    ["nesterov", "nesterov", { lr: 0.05, momentum: 0.9 }],
    ["adam", "adam", {}],
    ["adamw", "adamw", { lr: 0.01, weightDecay: 0.1 }],
    ["adagrad", "adagrad", {
      lr: 0.1,
      lrDecay: 0.05,
      initialAccumulator: 0.2,
      regularizers: [{ name: "l2", lambda: 0.01 }],
    }],
    ["rmsprop", "rmsprop", {}],
    ["clip_adam", "adam", { lr: 0.01, regularizers: [{ name: "clip_grad_norm", maxNorm: 2.5 }] }],
    ["l1_sgd", "sgd", { lr: 0.1, regularizers: [{ name: "l1", lambda: 0.2 }] }],
  ];
  for (const [fixture, name, o] of cases) {
    const c = torchCase(fixture);
    const ps = await params(c);
    if (fixture === "adam") o.lr = 0.01;
    const opt = create<Optimizer>("optimizer", name, { params: ps, ...o });
    const err = await runCase(c, ps, opt);
    opt.dispose();
    ps.forEach((p) => p.dispose());
    assert(err <= 1e-5, `${name} (${fixture}): relative error ${err.toExponential(2)}`);
  }
});

Deno.test("registry: missing params and unknown regularizers are clear errors", async () => {
  await assertRejects(() => create("optimizer", "adam", {}), /options.params/);
  await assertRejects(
    () => create("optimizer", "adam", { params: [], regularizers: ["l3"] }),
    /no regularizer plugin named "l3".*l2/,
  );
  // A layer named where gradient transforms go: the kinds are told apart, not a TypeError.
  await import("../../../plugins/layers/index.ts");
  await assertRejects(
    () => create("optimizer", "adam", { params: [], regularizers: ["dropout"] }),
    /"dropout" is a layer plugin \(a layer to place in a network.*\), not a regularizer plugin \(a gradient transform.*registered regularizer plugins: clip_grad_norm, l1, l2, weight_decay/,
  );
});
