/**
 * Training throughput of the two CNNs, beside PyTorch on the CPU (bench/peers/torch_bench.py,
 * same networks and batch sizes, fp32, threads = cores) and TensorFlow.js's WebGPU backend
 * on the same adapter (child processes of the same run), with ratios, and the achieved
 * GFLOP/s of each network's training step beside the adapter's matmul GFLOP/s:
 *   (a) the Fashion-MNIST CNN, random 28×28×1 input, batch 64, Adam;
 *   (b) the custom scene CNN, random 150×150×3 input, batch 16, Adam.
 * `--profile` adds, per network, where a training step's time goes (core/profile.ts).
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
import { formatProfile, profileStep, type StepProfile } from "../core/profile.ts";
import { flags, median, peer, ratio, torchPeer, type TorchResult } from "./util.ts";

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

/** A training step of `model` on fixed random input (Adam, NLL), and what it costs. */
export function trainStep(
  model: Sequential,
  input: [number, number, number],
  batch: number,
  classes: number,
): { step: () => void; flops: number; dispose: () => void } {
  const rng = new Rng(1);
  model.eval();
  const flops = forwardFlops(model, [1, ...input]) * 3 * batch; // forward + two backward products
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
  return {
    step,
    flops,
    dispose: () => {
      opt.dispose();
      model.dispose();
    },
  };
}

/** Engine figures of one network. */
export interface EngineCnn {
  imagesPerSec: number;
  gflops: number;
  profile?: StepProfile;
}

/** Images/s of training `model` on random input (median of `reps`), GFLOP/s, and a profile. */
export async function engineCnn(
  model: Sequential,
  input: [number, number, number],
  batch: number,
  classes: number,
  steps: number,
  reps = 3,
  profile: BenchProfile = false,
): Promise<EngineCnn> {
  await initGpu();
  const t = trainStep(model, input, batch, classes);
  t.step();
  await gpu().sync();
  // At least `steps` steps a round, and enough for about a second (a fast GPU's steps are
  // shorter than the ~11 ms wait that ends a round).
  const t0 = performance.now();
  t.step();
  await gpu().sync();
  const once = performance.now() - t0;
  steps = Math.max(steps, Math.min(500, Math.ceil((flags.quick ? 200 : 1000) / once)));
  const rates = [];
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    for (let i = 0; i < steps; i++) t.step();
    await gpu().sync();
    rates.push((batch * steps) / ((performance.now() - t0) / 1000));
  }
  const prof = profile
    ? await profileStep(t.step, { method: profile, steps: Math.min(steps, 3), rounds: 1 })
    : undefined;
  t.dispose();
  const imagesPerSec = median(rates);
  return { imagesPerSec, gflops: (imagesPerSec * t.flops) / batch / 1e9, profile: prof };
}

type BenchProfile = false | "auto" | "replay" | "timestamp";

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

const fmt = (v: number) => v.toFixed(v < 10 ? 2 : 0).padStart(8);

/** One network's rounds: the engine's and PyTorch's figures, round by round. */
interface Rounds {
  ours: EngineCnn[];
  torch: (TorchResult | undefined)[];
}

/** The median engine figure, and the median of the rounds' ratios to PyTorch (or null). */
function summary(r: Rounds): { ours: EngineCnn; pt: number | null; ratio: number | null } {
  const ips = r.ours.map((o) => o.imagesPerSec), m = median(ips);
  const ours = r.ours.find((o) => o.imagesPerSec === m) ?? r.ours[0];
  const pts = r.torch.map((t) => t?.imagesPerSec ?? 0);
  if (!pts.every((v) => v > 0)) return { ours, pt: null, ratio: null };
  return { ours, pt: median(pts), ratio: median(ips.map((v, k) => v / pts[k])) };
}

const list = (vs: number[]) => vs.map((v) => v.toFixed(v < 10 ? 2 : 0)).join(", ");

function report(
  name: string,
  rounds: Rounds,
  tfjs: number | null | undefined,
  goal: string,
): void {
  const { ours, pt, ratio: paired } = summary(rounds), r = ours.imagesPerSec;
  const torch = rounds.torch[0], n = rounds.ours.length;
  const each = (vs: number[]) => (n > 1 ? ` (rounds: ${list(vs)})` : "");
  console.log(name);
  console.log(
    `  engine       ${fmt(r)} images/s  ${
      ours.gflops.toFixed(2)
    } GFLOP/s achieved  (goal ${goal})` +
      each(rounds.ours.map((o) => o.imagesPerSec)),
  );
  if (torch) {
    console.log(
      pt && paired
        ? `  pytorch-${torch.device === "cpu" ? "cpu " : "cuda"} ${fmt(pt)} images/s  ` +
          `(torch ${torch.torch}, ${torch.threads} threads, BLAS ${torch.blas}); ratio ${
            paired.toFixed(2)
          }×${
            n > 1
              ? ` (median of ${n} paired rounds: ${
                list(rounds.torch.map((t) => t!.imagesPerSec!))
              })`
              : ""
          }`
        : `  pytorch      unavailable: ${torch.error}`,
    );
  }
  if (tfjs !== undefined) {
    console.log(
      tfjs === null
        ? "  tfjs-webgpu  unavailable"
        : `  tfjs-webgpu  ${fmt(tfjs)} images/s; ratio ${ratio(r, tfjs)}`,
    );
  }
  const prof = rounds.ours[0].profile;
  if (prof) console.log(formatProfile(prof).join("\n"));
}

/** The two networks of the benchmark. */
const NETS = [
  {
    key: "fashion",
    peerName: "fashion-cnn",
    title: "(a) Fashion-MNIST CNN train, batch 64",
    build: () => fashionCnn(0),
    input: [1, 28, 28] as [number, number, number],
    batch: 64,
    classes: 10,
    steps: 10,
    reps: 3,
    tfjs: ["cnn", "10"],
    goal: "≥ 1000 images/s, ≥ 0.7× PyTorch CPU",
  },
  {
    key: "scene",
    peerName: "scene-cnn",
    title: "(b) custom scene CNN train, 150×150, batch 16",
    build: () => sceneCnn(6, 0),
    input: [3, 150, 150] as [number, number, number],
    batch: 16,
    classes: 6,
    steps: 2,
    reps: 1,
    tfjs: ["scene", "2"],
    goal: "≥ 8 images/s, ≥ 0.8× PyTorch CPU",
  },
];

/**
 * Rounds of the engine and PyTorch taking turns (3 with PyTorch, 1 with `--quick`): this
 * machine's speed drifts by tens of percent within minutes, so each ratio is taken between
 * figures measured a few seconds apart, and the median ratio is reported.
 */
const ROUNDS = 3;

/** Prints both CNN benchmarks (and profiles with `--profile`); returns the figures. */
export async function benchCnn(): Promise<Record<string, unknown>> {
  const mm = await matmulGflops();
  console.log(`adapter matmul (n=1024): ${mm.toFixed(2)} GFLOP/s`);
  const nets: Record<string, unknown>[] = [];
  const rounds: Rounds[] = NETS.map(() => ({ ours: [], torch: [] }));
  const R = flags.quick || !flags.torch ? 1 : ROUNDS;
  let peerMeta: TorchResult | undefined;
  for (let round = 0; round < R; round++) {
    for (const [k, n] of NETS.entries()) {
      const steps = flags.quick ? 1 : n.steps, reps = flags.quick ? 1 : n.reps;
      const prof = round === 0 ? flags.profile : false;
      const o = await engineCnn(n.build(), n.input, n.batch, n.classes, steps, reps, prof);
      rounds[k].ours.push(o);
    }
    const torch = flags.torch ? await torchPeer(NETS.map((n) => n.key)) : {};
    peerMeta ??= Object.values(torch)[0];
    for (const [k, n] of NETS.entries()) {
      rounds[k].torch.push(flags.torch ? torch[n.peerName] : undefined);
    }
  }
  for (const [k, n] of NETS.entries()) {
    const tfjs = flags.tfjs && !flags.quick ? await peer("bench/peers/tfjs.ts", n.tfjs) : undefined;
    report(n.title, rounds[k], tfjs, n.goal);
    const { ours, pt, ratio: paired } = summary(rounds[k]);
    const profile = rounds[k].ours[0].profile;
    nets.push({
      net: n.peerName,
      batch: n.batch,
      imagesPerSec: ours.imagesPerSec,
      gflops: ours.gflops,
      torch: pt,
      ratioTorch: paired,
      rounds: rounds[k].ours.map((o, r) => ({
        imagesPerSec: o.imagesPerSec,
        torch: rounds[k].torch[r]?.imagesPerSec ?? null,
      })),
      tfjs: tfjs ?? null,
      ratioTfjs: tfjs ? ours.imagesPerSec / tfjs : null,
      ...(profile ? { profile } : {}),
    });
  }
  return {
    bench: "cnn",
    matmulGflops: mm,
    torch: peerMeta
      ? { version: peerMeta.torch, device: peerMeta.device, threads: peerMeta.threads }
      : null,
    nets,
  };
}

if (import.meta.main) console.log(JSON.stringify(await benchCnn()));
