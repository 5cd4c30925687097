/**
 * What checkpoints keep of a model with frozen parameters (training/frozen.ts): the
 * trained tensors only, the frozen ones fingerprinted; loading checks the fingerprint,
 * refuses other frozen weights or a different set of tensors with a one-line UsageError,
 * and still loads an older checkpoint that holds every parameter.
 */
import { assert, assertEquals } from "../assert.ts";
import { initGpu } from "../../core/gpu.ts";
import { Linear } from "../../core/nn/linear.ts";
import { ReLU } from "../../core/nn/activation.ts";
import { Sequential } from "../../core/nn/sequential.ts";
import { trainedTensors } from "../../core/nn/module.ts";
import { Rng } from "../../core/random.ts";
import { frozenPrint, loadTrained, trainedState } from "../../training/frozen.ts";
import { UsageError } from "../../training/pipeline.ts";

await initGpu();

/** Linear(3, 4) frozen (a "backbone") → ReLU → Linear(4, 2) trained, seeded. */
function net(seed: number, headSeed = 1): Sequential {
  const m = new Sequential(
    new Linear(3, 4, { rng: new Rng(seed) }),
    new ReLU(),
    new Linear(4, 2, { rng: new Rng(headSeed) }),
  );
  for (const [n, p] of m.namedParameters()) if (n.startsWith("0.")) p.requiresGrad = false;
  return m;
}

async function refused(f: () => Promise<void>, re: RegExp): Promise<void> {
  try {
    await f();
  } catch (e) {
    assert(e instanceof UsageError, String(e));
    assert(re.test(e.message) && !e.message.includes("\n"), e.message);
    return;
  }
  throw new Error(`not refused (${re})`);
}

Deno.test("frozen: checkpoints keep the trained tensors, fingerprint the frozen ones, check on load", async () => {
  const a = net(7);
  assertEquals(trainedTensors(a).map(([n]) => n), ["2.weight", "2.bias"]);
  const weights = await trainedState(a), frozen = await frozenPrint(a);
  assertEquals(Object.keys(weights), ["2.weight", "2.bias"]);
  assertEquals(frozen?.names, ["0.bias", "0.weight"]);
  assertEquals(frozen?.sha256.length, 64);
  assertEquals((await frozenPrint(net(7, 5)))?.sha256, frozen?.sha256, "the head does not count");
  assert((await frozenPrint(net(8)))?.sha256 !== frozen?.sha256, "other frozen values");

  // The same frozen weights: the trained ones come back exactly.
  const b = net(7, 99);
  await loadTrained(b, { weights, frozen }, "resume");
  assertEquals(await trainedState(b), weights);

  await refused(
    () => loadTrained(net(8), { weights, frozen }, "run_0 does not fit this model"),
    /^run_0 does not fit this model: it was trained on other frozen weights \(sha256 [0-9a-f]{12}…, these are [0-9a-f]{12}…\)/,
  );
  const all = new Sequential(new Linear(3, 4), new ReLU(), new Linear(4, 2)); // nothing frozen
  await refused(() => loadTrained(all, { weights, frozen }, "x"), /frozen parameters were 2/);
  const { "2.bias": _, ...partial } = weights;
  await refused(
    () => loadTrained(net(7), { weights: partial, frozen }, "x"),
    /missing 1 \(2\.bias\)/,
  );

  // An older checkpoint: every parameter, no fingerprint; it loads them all (frozen too).
  const old = await net(8).stateDict();
  const c = net(7);
  await loadTrained(c, { weights: old }, "resume");
  assertEquals(await c.stateDict(), old);
  for (const m of [a, b, c, all]) m.dispose();
});
