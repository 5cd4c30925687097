/**
 * Run by windows_test.ts with WEBGPU_MAX_BINDING_BYTES lowered: parameters larger than one
 * storage binding go through the fused update (and the clipping reduction) window by
 * window. Prints the worst relative errors against a float64 reference as JSON.
 */
import { gpu, initGpu } from "../../../core/gpu.ts";
import { Rng } from "../../../core/random.ts";
import { fromArray } from "../../../core/tensor.ts";
import { Optimizer } from "../../../plugins/optimizers/chain.ts";
import { adam } from "../../../plugins/optimizers/adam.ts";
import { momentum } from "../../../plugins/optimizers/momentum.ts";
import { clipGradNorm } from "../../../plugins/regularizers/clip.ts";
import { l1 } from "../../../plugins/regularizers/l1.ts";
import { l2 } from "../../../plugins/regularizers/l2.ts";
import { weightDecay } from "../../../plugins/regularizers/weight_decay.ts";
import { relErr } from "./_helpers.ts";

await initGpu();
const rng = new Rng(11);
const sizes = [40000, 300]; // 160,000 bytes: three windows of at most 65,536 bytes
const rand = (n: number, s = 1) =>
  Float64Array.from({ length: n }, () => Math.fround(rng.uniform(-s, s)));
const STEPS = 4, LR = 0.01;
const errs: Record<string, number> = {};

for (const which of ["clip>l2>adam", "weight_decay>l1>momentum"]) {
  const W = sizes.map((n) => rand(n));
  const G = [...Array(STEPS)].map(() => sizes.map((n) => rand(n, 0.05)));
  // float64 reference
  const w = W.map((x) => Float64Array.from(x));
  const m = sizes.map((n) => new Float64Array(n)), v = sizes.map((n) => new Float64Array(n));
  for (let s = 0; s < STEPS; s++) {
    if (which.startsWith("clip")) {
      let sq = 0;
      for (const g of G[s]) for (const x of g) sq += x * x;
      const f = Math.min(1, 1 / (Math.sqrt(sq) + 1e-6));
      const t = s + 1;
      for (let k = 0; k < sizes.length; k++) {
        for (let i = 0; i < sizes[k]; i++) {
          const g = G[s][k][i] * f + 0.01 * w[k][i];
          m[k][i] = 0.9 * m[k][i] + 0.1 * g;
          v[k][i] = 0.999 * v[k][i] + 0.001 * g * g;
          const den = Math.sqrt(v[k][i]) / Math.sqrt(1 - 0.999 ** t) + 1e-8;
          w[k][i] -= (LR / (1 - 0.9 ** t)) * (m[k][i] / den);
        }
      }
    } else {
      for (let k = 0; k < sizes.length; k++) {
        for (let i = 0; i < sizes[k]; i++) {
          w[k][i] *= 1 - LR * 0.1;
          const g = G[s][k][i] + 0.5 * Math.sign(w[k][i]) * 0.002;
          m[k][i] = 0.9 * m[k][i] + LR * g;
          w[k][i] -= m[k][i];
        }
      }
    }
  }
  const ps = W.map((x) => {
    const t = fromArray(x).keep();
    t.requiresGrad = true;
    return t;
  });
  const links = which.startsWith("clip")
    ? [clipGradNorm({ maxNorm: 1 }), l2({ lambda: 0.01 }), adam()]
    : [weightDecay({ weightDecay: 0.1 }), l1({ lambda: 0.002 }), momentum({ momentum: 0.9 })];
  const opt = new Optimizer(ps, links, { lr: LR });
  for (let s = 0; s < STEPS; s++) {
    ps.forEach((p, k) => {
      p.grad?.dispose();
      p.grad = fromArray(G[s][k]).keep();
    });
    opt.step();
  }
  for (let k = 0; k < sizes.length; k++) {
    errs[`${which} p${k}`] = relErr(await ps[k].data(), w[k]);
  }
  opt.dispose();
}
console.log(JSON.stringify({
  maxBindingBytes: gpu().maxBindingBytes,
  windows: gpu().windows(sizes[0] * 4).length,
  errs,
}));
