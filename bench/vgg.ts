/**
 * VGG16 frozen-feature benchmark: the 13 convolutions and 5 max pools of VGG16 at their
 * real sizes (64…512 channels, 14.7 M weights, generated — not a download) on 150×150
 * images, batch 8 (output 8×512×4×4), in images/s, comparing in one run the engine's own
 * kernels with ONNX Runtime running the same weights written as ONNX by `onnx/export.ts`:
 * native CPU (onnxruntime-node), wasm with threads and WebGPU (onnxruntime-web). Each
 * backend's output is checked against the engine's (relative error) and the fastest
 * correct one is named — the one `selectFeatureBackend` would give the pipeline.
 *
 * ```
 * deno run -A bench/vgg.ts [--rounds 3] [--skip ort-webgpu]
 * ```
 *
 * The engine ÷ ORT-wasm ratio is printed twice: from the two blocks of rounds, and as the
 * median of `rounds` alternating pairs (one engine batch, then one wasm batch), which the
 * machine's drifting speed affects less (`ratioOrtWasmPaired` in the JSON).
 *
 * PyTorch runs the same network in the same run (bench/peers/torch_bench.py: CPU with
 * threads = cores, or CUDA with `--torch-device=cuda`), and the engine's ratio to it is
 * printed. Peers on the 2-core reference machine (docs FACTS): PyTorch 1.13 CPU ≈ 20
 * images/s, ORT native ≈ 37, ORT wasm (2 threads) ≈ 5.1, ORT WebGPU on lavapipe ≈ 0.5.
 * With `--quick` (bench/main.ts) one round and no ORT WebGPU.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { noGrad } from "../core/autograd.ts";
import { gpu, initGpu } from "../core/gpu.ts";
import { ReLU } from "../core/nn/activation.ts";
import { Conv2d } from "../core/nn/conv.ts";
import type { Module } from "../core/nn/module.ts";
import { Rng } from "../core/random.ts";
import { fromArray, tidy } from "../core/tensor.ts";
import { MaxPool2d } from "../plugins/pooling/max.ts";
import { exportOnnxBytes } from "../onnx/export.ts";
import { relativeError } from "../training/features.ts";
import { Container } from "../onnx/graph_module.ts";
import { type OrtKind, ortSession } from "../onnx/ort.ts";
import { flags, median, ratio, torchPeer } from "./util.ts";

/** VGG16's `features` configuration (torchvision's "D"). */
export const VGG16_CFG: (number | "M")[] = [
  64,
  64,
  "M",
  128,
  128,
  "M",
  256,
  256,
  256,
  "M",
  512,
  512,
  512,
  "M",
  512,
  512,
  512,
  "M",
];

/** VGG16's convolutional part with torchvision's names (`features.0` …), seeded weights. */
export function vgg16Features(seed = 0): Container {
  const c = new Container();
  let ch = 3, k = 0;
  const rng = new Rng(seed);
  for (const v of VGG16_CFG) {
    if (v === "M") c.add(String(k++), new MaxPool2d({ kernel: 2, stride: 2 }));
    else {
      c.add(String(k++), new Conv2d(ch, v, 3, { padding: 1, rng }));
      c.add(String(k++), new ReLU());
      ch = v;
    }
  }
  return c;
}

/** One backend's figures. */
export interface VggResult {
  backend: "engine" | OrtKind;
  imagesPerSec?: number;
  relErr?: number;
  error?: string;
}

/**
 * Images/s of `fn` (n images a call): one warm-up call (unless `warmUp` is false), then the
 * median of `rounds` calls. When the warm-up alone takes longer than `budgetMs`, its time
 * (compiles included) is the figure, so a very slow backend cannot hold the run for many
 * minutes.
 */
async function timeIt(
  n: number,
  rounds: number,
  fn: () => Promise<unknown>,
  budgetMs = 30_000,
  warmUp = true,
): Promise<{ ips: number; rounds: number }> {
  if (warmUp) {
    const w0 = performance.now();
    await fn(); // warm-up: compiles, allocates
    const warm = performance.now() - w0;
    if (warm > budgetMs) return { ips: n / (warm / 1000), rounds: 0 };
  }
  const ts: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const t0 = performance.now();
    await fn();
    ts.push(performance.now() - t0);
  }
  return { ips: n / (median(ts) / 1000), rounds };
}

function note(rounds: number): string {
  return rounds ? "" : " (one timed call)";
}

function engineRun(net: Module, x: Float32Array, shape: number[]): Promise<Float32Array> {
  const y = noGrad(() => tidy(() => net.forward(fromArray(x, shape))));
  return y.data().finally(() => y.dispose());
}

/**
 * Runs the benchmark, prints one line per backend, and returns the figures (bench/main.ts
 * prints them as one JSON line with `--json`).
 *
 * @example
 * await benchVgg(); // from bench/main.ts
 */
export async function benchVgg(
  opts: { rounds?: number; batch?: number; size?: number; skip?: string[] } = {},
): Promise<Record<string, unknown>> {
  const rounds = opts.rounds ?? (flags.quick ? 1 : 3), batch = opts.batch ?? 8;
  const size = opts.size ?? 150;
  const skip = opts.skip ?? (flags.quick ? ["ort-webgpu"] : []);
  await initGpu();
  const net = vgg16Features();
  net.eval();
  const shape = [batch, 3, size, size];
  const rng = new Rng(1);
  const x = Float32Array.from({ length: batch * 3 * size * size }, () => rng.uniform(-2, 2));
  console.log(
    `VGG16 frozen features ${size}×${size}, batch ${batch} (${
      gpu().info.description || gpu().info.vendor
    }, ` +
      `${navigator.hardwareConcurrency} cores), median of ${rounds} rounds after a warm-up`,
  );
  const results: VggResult[] = [];
  const paired: number[] = [];
  const want = await engineRun(net, x, shape);
  const eng = await timeIt(batch, rounds, () => engineRun(net, x, shape));
  results.push({ backend: "engine", imagesPerSec: eng.ips, relErr: 0 });
  console.log(`  engine (WebGPU kernels)   ${eng.ips.toFixed(2)} images/s${note(eng.rounds)}`);
  const bytes = await exportOnnxBytes(net, { inputShape: shape });
  for (const kind of ["ort-node", "ort-wasm", "ort-webgpu"] as OrtKind[]) {
    if (skip.includes(kind)) continue;
    try {
      const s = await ortSession(kind, bytes);
      const got = (await s.run(x, shape)).data;
      const relErr = relativeError(got, want);
      // The slow backends get fewer rounds (WebGPU on a software adapter: ~16 s a batch).
      const r = kind === "ort-node" ? rounds + 2 : kind === "ort-wasm" ? Math.min(rounds, 2) : 1;
      const t = await timeIt(batch, r, () => s.run(x, shape));
      if (kind === "ort-wasm") {
        // The ratio from alternating pairs (the machine's speed drifts between blocks).
        for (let k = 0; k < rounds; k++) {
          const e = await timeIt(batch, 1, () => engineRun(net, x, shape), Infinity, false);
          const w = await timeIt(batch, 1, () => s.run(x, shape), Infinity, false);
          paired.push(e.ips / w.ips);
        }
      }
      await s.release();
      results.push({ backend: kind, imagesPerSec: t.ips, relErr });
      console.log(
        `  ${kind.padEnd(24)}  ${t.ips.toFixed(2)} images/s${note(t.rounds)} ` +
          `(rel. error vs engine ${relErr.toExponential(1)})`,
      );
    } catch (e) {
      const error = String((e as Error).message ?? e).split("\n")[0];
      results.push({ backend: kind, error });
      console.log(`  ${kind.padEnd(24)}  unusable: ${error}`);
    }
  }
  net.dispose();
  const wasm = results.find((r) => r.backend === "ort-wasm")?.imagesPerSec;
  const pairedRatio = paired.length ? median(paired) : undefined;
  if (wasm) {
    console.log(
      `  engine ÷ ort-wasm          ${ratio(eng.ips, wasm)} (goal ≥ 2×)` +
        (pairedRatio
          ? `; ${pairedRatio.toFixed(2)}× as the median of ${paired.length} alternating pairs ` +
            `(${paired.map((v) => v.toFixed(2)).join(", ")})`
          : ""),
    );
  }
  const ok = results.filter((r) => r.imagesPerSec && (r.relErr ?? 1) <= 1e-4);
  const best = ok.reduce((a, b) => (b.imagesPerSec! > a.imagesPerSec! ? b : a));
  console.log(
    `  fastest correct: ${best.backend} ${best.imagesPerSec!.toFixed(1)} images/s ` +
      `(goal ≥ 30 here; peers on the reference machine: PyTorch ≈ 20, ORT native ≈ 37, wasm ≈ 5)`,
  );
  const torch = flags.torch
    ? (await torchPeer(["vgg"], ["--vgg-size", String(size)]))["vgg16-features"]
    : undefined;
  if (torch) {
    console.log(
      torch.imagesPerSec
        ? `  pytorch-${torch.device === "cpu" ? "cpu" : "cuda"}  ${
          torch.imagesPerSec.toFixed(2)
        } images/s (torch ${torch.torch}, ${torch.threads} threads); engine ratio ${
          ratio(eng.ips, torch.imagesPerSec)
        }`
        : `  pytorch  unavailable: ${torch.error}`,
    );
  }
  return {
    bench: "vgg16-features",
    size,
    batch,
    results,
    fastest: best.backend,
    torch: torch?.imagesPerSec ?? null,
    torchDevice: torch?.device ?? null,
    ratioTorch: torch?.imagesPerSec ? eng.ips / torch.imagesPerSec : null,
    ratioOrtWasm: wasm ? eng.ips / wasm : null,
    /** The median engine ÷ ORT-wasm ratio of alternating single batches. */
    ratioOrtWasmPaired: pairedRatio ?? null,
    pairedOrtWasm: paired,
  };
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      rounds: { type: "string", default: "3" },
      batch: { type: "string", default: "8" },
      size: { type: "string", default: "150" },
      skip: { type: "string", multiple: true, default: [] },
    },
  });
  const r = await benchVgg({
    rounds: Number(values.rounds),
    batch: Number(values.batch),
    size: Number(values.size),
    skip: values.skip as string[],
  });
  console.log(JSON.stringify(r));
  Deno.exit(0);
}
