/**
 * Training throughput of the two CNNs of issue 4, beside TensorFlow.js's WebGPU backend
 * on the same adapter (a child process of the same run), with ratios, and the achieved
 * GFLOP/s of each network's training step beside the adapter's matmul GFLOP/s:
 *   (a) the Fashion-MNIST CNN, random 28×28×1 input, batch 64, Adam;
 *   (b) the custom scene CNN, random 150×150×3 input, batch 16, Adam.
 */
import { backward } from "../core/autograd.ts";
import { gpu, initGpu } from "../core/gpu.ts";
import { Conv2d } from "../core/nn/conv.ts";
import { Linear } from "../core/nn/linear.ts";
import type { Module } from "../core/nn/module.ts";
import type { Sequential } from "../core/nn/sequential.ts";
import { matmul } from "../core/ops/matmul.ts";
import { nll } from "../core/ops/loss.ts";
import { Rng } from "../core/random.ts";
import { fromArray, sizeOf, tidy } from "../core/tensor.ts";
import "../plugins/optimizers/index.ts";
import type { Optimizer } from "../plugins/optimizers/chain.ts";
import { create } from "../plugins/registry.ts";
import { fashionCnn, sceneCnn } from "../models/nets.ts";
import { median, peer } from "./util.ts";

/** Forward multiply-adds ×2 of the conv and linear layers for one image of `input` shape. */
export function forwardFlops(model: Sequential, input: number[]): number {
  let shape = input, flops = 0;
  for (const m of model.layers as Module[]) {
    if (m instanceof Conv2d) {
      const [, c, h, w] = shape;
      const [kh, kw] = m.kernelSize;
      const o = tidy(() => m.forward(fromArray(new Float32Array(c * h * w), [1, c, h, w])));
      flops += 2 * sizeOf(o.shape) * (c / (m.options.groups ?? 1)) * kh * kw;
      shape = [...o.shape];
      o.dispose();
      continue;
    }
    if (m instanceof Linear) {
      flops += 2 * m.inFeatures * m.outFeatures;
      shape = [1, m.outFeatures];
      continue;
    }
    const o = tidy(() => m.forward(fromArray(new Float32Array(sizeOf(shape)), shape)));
    shape = [...o.shape];
    o.dispose();
  }
  return flops;
}

/** Images/s of training `model` on random input (median of `reps`), and GFLOP/s. */
export async function engineCnn(
  model: Sequential,
  input: [number, number, number],
  batch: number,
  classes: number,
  steps: number,
  reps = 3,
): Promise<{ imagesPerSec: number; gflops: number }> {
  await initGpu();
  const rng = new Rng(1);
  model.eval();
  const flops = forwardFlops(model, [1, ...input]) * 3; // forward + two backward products
  model.train();
  const opt = create<Optimizer>("optimizer", "adam", { params: model.namedParameters(), lr: 1e-3 });
  const x = Float32Array.from({ length: batch * sizeOf(input) }, () => rng.next());
  const y = Float32Array.from({ length: batch }, () => rng.int(classes));
  const step = () =>
    tidy(() => {
      const l = nll(model.forward(fromArray(x, [batch, ...input])), fromArray(y, [batch]));
      backward(l);
      opt.step();
      opt.zeroGrad();
    });
  step();
  await gpu().sync();
  const rates = [];
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    for (let i = 0; i < steps; i++) step();
    await gpu().sync();
    rates.push((batch * steps) / ((performance.now() - t0) / 1000));
  }
  opt.dispose();
  model.dispose();
  const imagesPerSec = median(rates);
  return { imagesPerSec, gflops: (imagesPerSec * flops) / 1e9 };
}

/** GFLOP/s of the engine's matmul op at n = 1024 (the adapter's reference figure). */
export async function matmulGflops(n = 1024, reps = 5): Promise<number> {
  await initGpu();
  const a = fromArray(new Float32Array(n * n).fill(0.5), [n, n]).keep();
  tidy(() => matmul(a, a));
  await gpu().sync();
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) tidy(() => matmul(a, a));
  await gpu().sync();
  a.dispose();
  return (2 * n ** 3 * reps) / ((performance.now() - t0) / 1000) / 1e9;
}

function line(
  name: string,
  ours: { imagesPerSec: number; gflops: number },
  tfjs: number | null,
  goal: string,
) {
  const r = ours.imagesPerSec;
  console.log(`${name}`);
  console.log(
    `  engine       ${r.toFixed(r < 10 ? 2 : 0).padStart(8)} images/s  ${
      ours.gflops.toFixed(2)
    } GFLOP/s achieved  (goal ${goal})`,
  );
  if (tfjs === null) console.log("  tfjs-webgpu  unavailable");
  else {
    console.log(`  tfjs-webgpu  ${tfjs.toFixed(tfjs < 10 ? 2 : 0).padStart(8)} images/s`);
    console.log(`  ratio        ${(r / tfjs).toFixed(1).padStart(8)}×`);
  }
}

/** Prints both CNN benchmarks. */
export async function benchCnn(): Promise<void> {
  const mm = await matmulGflops();
  console.log(`adapter matmul (n=1024): ${mm.toFixed(2)} GFLOP/s`);
  const a = await engineCnn(fashionCnn(0), [1, 28, 28], 64, 10, 10);
  line(
    "(a) Fashion-MNIST CNN train, batch 64",
    a,
    await peer("bench/peers/tfjs.ts", ["cnn", "10"]),
    "≥ 1000 images/s",
  );
  const b = await engineCnn(sceneCnn(6, 0), [3, 150, 150], 16, 6, 2, 1);
  line(
    "(b) custom scene CNN train, 150×150, batch 16",
    b,
    await peer("bench/peers/tfjs.ts", ["scene", "2"]),
    "≥ 8 images/s",
  );
}

if (import.meta.main) await benchCnn();
