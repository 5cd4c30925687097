/**
 * The optimizer's update reading through flat textures (`core/ops/texture_read.ts`, used
 * where the adapter's storage loads are slow) gives the same bits as the storage reads:
 * Adam, AMSGrad with weight decay, and clipping by the global norm, on parameters large
 * enough to take that path (a tail that fills no texture row; one over several layers).
 */
import { assert, assertEquals } from "../../assert.ts";
import { gpu, initGpu } from "../../../core/gpu.ts";
import { Rng } from "../../../core/random.ts";
import { setFlatMaxRows, setTextureReads } from "../../../core/ops/texture_read.ts";
import { fromArray } from "../../../core/tensor.ts";
import { type Link, Optimizer } from "../../../plugins/optimizers/chain.ts";
import { adam } from "../../../plugins/optimizers/adam.ts";
import { clipGradNorm } from "../../../plugins/regularizers/clip.ts";
import { weightDecay } from "../../../plugins/regularizers/weight_decay.ts";

await initGpu();

/** Weights and slots after 3 steps of `links` on fixed data, with texture reads on or off. */
async function run(links: () => Link[], sizes: number[], textures: boolean) {
  const old = setTextureReads(textures);
  const rng = new Rng(5);
  const rand = (n: number) => Float32Array.from({ length: n }, () => rng.uniform(-1, 1));
  const ps = sizes.map((n, k) => {
    const t = fromArray(rand(n), [n]).keep();
    t.requiresGrad = true;
    t.name = `p${k}`;
    return t;
  });
  const opt = new Optimizer(ps, links(), { lr: 0.01 });
  let texCopies = 0;
  for (let s = 0; s < 3; s++) {
    for (const p of ps) {
      p.grad?.dispose();
      p.grad = fromArray(rand(p.size), p.shape).keep();
    }
    // Count the copies into textures step() records (the texture path's, none otherwise).
    const prev = gpu().setHook({
      dispatch: () => undefined,
      command: (kind) => void (kind === "copyToTexture" && texCopies++),
      beforeSubmit: () => {},
    });
    opt.step();
    gpu().setHook(prev);
  }
  const out = await Promise.all(ps.map((p) => p.data()));
  const state = JSON.stringify(await opt.state());
  opt.dispose();
  for (const p of ps) (p.grad?.dispose(), p.dispose());
  setTextureReads(old);
  return { out, state, texCopies };
}

const CHAINS: [string, () => Link[]][] = [
  ["adam", () => [adam()]],
  ["weight_decay > adam(amsgrad)", () => [weightDecay(), adam({ amsgrad: true })]],
  ["clip > adam", () => [clipGradNorm({ maxNorm: 1 }), adam()]],
];

Deno.test("optimizer: texture reads give the storage reads' bits (Adam, AMSGrad, clipping)", async () => {
  const sizes = [65536 + 1030, 100, 70001]; // 16,642 and 17,501 vec4s: the texture path
  for (const [name, links] of CHAINS) {
    if (name.includes("amsgrad") && gpu().device.limits.maxStorageTexturesPerShaderStage < 5) {
      continue; // 5 reads: more storage textures than this device binds (storage reads)
    }
    const a = await run(links, sizes, true), b = await run(links, sizes, false);
    for (let k = 0; k < sizes.length; k++) assertEquals([...a.out[k]], [...b.out[k]], name);
    assertEquals(a.state, b.state, `${name}: optimizer state`);
    assert(a.texCopies > 0 && b.texCopies === 0, `${name}: ${a.texCopies}, ${b.texCopies} copies`);
  }
});

Deno.test("optimizer: texture reads over several texture layers", async () => {
  const old = setFlatMaxRows(4);
  try {
    const a = await run(() => [adam()], [5 * 16384 + 3], true);
    const b = await run(() => [adam()], [5 * 16384 + 3], false);
    assertEquals([...a.out[0]], [...b.out[0]]);
    assertEquals(a.state, b.state);
    assert(a.texCopies > 0 && b.texCopies === 0);
  } finally {
    setFlatMaxRows(old);
  }
});
