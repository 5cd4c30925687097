import { assert, assertEquals } from "../../assert.ts";
import { initGpu } from "../../../core/gpu.ts";
import { fromArray } from "../../../core/tensor.ts";
import { Optimizer } from "../../../plugins/optimizers/chain.ts";
import { SGD } from "../../../plugins/optimizers/sgd.ts";

Deno.test("SGD: w ← w − η·g; changing lr compiles nothing (the rate is not a shader constant)", async () => {
  const g = await initGpu();
  const w = fromArray([1, 2, 3]);
  w.requiresGrad = true;
  const frozen = fromArray([7]); // no gradient: skipped
  const opt = new SGD([w, frozen], 0.5);
  assert(opt instanceof Optimizer);
  assertEquals(opt.chainName, "sgd");
  const step = (grad: number[]) => {
    w.grad = fromArray(grad).keep();
    opt.step();
    opt.zeroGrad();
  };
  step([1, 1, 1]); // 0.5, 1.5, 2.5
  const before = g.stats().pipelines;
  opt.lr = 0.25;
  step([2, 2, 2]); // 0, 1, 2
  opt.lr = 0.125;
  step([8, 0, 8]); // -1, 1, 1
  assertEquals(g.stats().pipelines, before);
  assertEquals([...(await w.data())], [-1, 1, 1]);
  assertEquals([...(await frozen.data())], [7]);
  opt.dispose();
  w.dispose();
  frozen.dispose();
});
