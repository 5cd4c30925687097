import { assert, assertEquals, assertRejects } from "../../assert.ts";
import { initGpu } from "../../../core/gpu.ts";
import { Dropout } from "../../../core/nn/dropout.ts";
import { Linear } from "../../../core/nn/linear.ts";
import { Sequential } from "../../../core/nn/sequential.ts";
import { deriveSeed, Rng } from "../../../core/random.ts";
import { fromArray } from "../../../core/tensor.ts";
import { create, find, names } from "../../../plugins/registry.ts";
import "../../../plugins/layers/index.ts";

Deno.test("layer plugin dropout: registered by name, create({ p, seed }) gives a Dropout layer", async () => {
  await initGpu();
  assert(names("layer").includes("dropout"));
  assert(find("layer", "dropout").description);
  const d = create<Dropout>("layer", "dropout", { p: 0.2, seed: 4 });
  assert(d instanceof Dropout);
  assertEquals(d.p, 0.2);
  assertEquals(d.rngState(), new Rng(deriveSeed(4, "dropout")).state());
  assertEquals(create<Dropout>("layer", "dropout").p, 0.5);
  // Switched on in a network: active in training, identity in eval.
  const net = new Sequential(new Linear(4, 64, { seed: 1 }), d);
  const x = fromArray([1, -2, 3, 0.5], [1, 4]);
  const yt = await net.forward(x).data();
  assert(yt.some((v) => v === 0), "training: some activations dropped");
  net.eval();
  const ye = await net.forward(x).data();
  const yl = await net.layers[0].forward(x).data();
  assertEquals([...ye], [...yl]);
  await assertRejects(
    () => create("layer", "dropout", { rate: 0.5 }),
    /unknown option "rate"; accepted: p, seed/,
  );
  await assertRejects(() => create("layer", "dropout", { p: 2 }), /p must be in \[0, 1\]/);
  x.dispose();
  net.dispose();
});
