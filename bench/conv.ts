/**
 * Convolution benchmark: GFLOP/s of conv2d forward and backward for the layer shapes of the
 * Fashion-MNIST CNN (batch 64) and of the custom scene CNN (batch 16, 150×150 input), beside
 * the adapter's matmul GFLOP/s for a square n = 1024 product, measured in the same run.
 *
 * ```
 * deno run -A bench/conv.ts [--rounds 5]
 * ```
 *
 * The scene CNN's layers run at the sizes that network really sees: 150×150 → conv5 → 146
 * → pool 3 → 48 → conv5 → 44 → pool 3 → 14 → conv5 → 10 → pool 3 → 3 (Flatten 144).
 * Backward of a network's first layer computes dW and db only (its input needs no gradient),
 * as in training. Each round records the work `reps` times into one submission, then waits
 * for the GPU once, `reps` doubled until a round lasts at least 250 ms, so the ~11 ms wait
 * costs at most a few percent (a training step pays it once for all its layers). Every
 * timed function gets its own `reps` — the matmul peer, the forward, forward + backward and
 * each floor: with the forward and the floors at forward + backward's count, a small layer's
 * forward round lasted 80 ms and its floors' 10–20 ms, so the wait took 14% of the one and a
 * third or more of the others (the peer, at two calls, 12%). The ratios
 * to the matmul are taken per round: every round of a layer runs the n = 1024 matmul, then
 * the forward, then forward + backward, and the figures are the medians of the rounds'
 * ratios — the machine's speed drifts (on one shared machine the matmul read 25 and 43
 * GFLOP/s ten minutes apart), so a matmul measured once at the start cannot be the peer of a
 * layer measured later.
 *
 * Each layer also gets a floor measured in the same rounds: the forward must at least write
 * its output, and the backward read the output gradient (and write the input gradient when
 * the layer has one). Kernels that do only that memory traffic (8 vec4s an invocation, no
 * arithmetic) give the best ratio to the matmul any kernel could reach on this adapter
 * ("ceiling"): for a layer with few FLOPs per output value it is below the 0.6× goal.
 *
 * @module
 */
import { backward } from "../core/autograd.ts";
import { gpu, initGpu } from "../core/gpu.ts";
import { conv2d } from "../core/ops/conv.ts";
import { convGeometry } from "../core/ops/conv_ref.ts";
import { conv2dImplicit } from "../core/ops/conv_implicit.ts";
import { grid, mainEach, run } from "../core/ops/kernel.ts";
import { matmul } from "../core/ops/matmul.ts";
import { Rng } from "../core/random.ts";
import { empty, fromArray, type Tensor, tidy } from "../core/tensor.ts";
import { flags } from "./util.ts";

/** One conv layer to measure. */
export interface ConvLayer {
  net: string;
  name: string;
  x: [number, number, number, number];
  cout: number;
  k: number;
  padding: number;
  /** Whether the layer's input needs a gradient (false for a network's first layer). */
  inputGrad: boolean;
}

/** The layers measured by default. */
export const LAYERS: ConvLayer[] = [
  {
    net: "fashion-mnist",
    name: "conv1 1→16 3×3 p1 @28",
    x: [64, 1, 28, 28],
    cout: 16,
    k: 3,
    padding: 1,
    inputGrad: false,
  },
  {
    net: "fashion-mnist",
    name: "conv2 16→32 3×3 p1 @14",
    x: [64, 16, 14, 14],
    cout: 32,
    k: 3,
    padding: 1,
    inputGrad: true,
  },
  {
    net: "scene",
    name: "conv1 3→64 5×5 @150",
    x: [16, 3, 150, 150],
    cout: 64,
    k: 5,
    padding: 0,
    inputGrad: false,
  },
  {
    net: "scene",
    name: "conv2 64→32 5×5 @48",
    x: [16, 64, 48, 48],
    cout: 32,
    k: 5,
    padding: 0,
    inputGrad: true,
  },
  {
    net: "scene",
    name: "conv3 32→16 5×5 @14",
    x: [16, 32, 14, 14],
    cout: 16,
    k: 5,
    padding: 0,
    inputGrad: true,
  },
];

function rand(shape: number[], rng: Rng): Tensor {
  const n = shape.reduce((p, d) => p * d, 1);
  return fromArray(Float32Array.from({ length: n }, () => rng.uniform(-1, 1)), shape);
}

/**
 * Records `reps` calls of `fn` into one submission, as a training step records all its
 * layers (and as the floors below run). A submission per call would leave the GPU idle
 * while the host records the next call — on lavapipe a submit waits for the work in flight
 * — which a layer of a few ms pays in full (scene conv3's forward: 3.9 against 3.2 ms a
 * call).
 */
function calls(fn: () => void, reps: number): void {
  tidy(() => {
    for (let i = 0; i < reps; i++) fn();
  });
}

/** Rounds of at least this long (the GPU wait that ends one costs about 11 ms on Deno). */
const ROUND_MS = 250;

/** Calls of `fn` a round: doubled from 1 until a round lasts `ROUND_MS` (at most 4096). */
async function repsFor(fn: () => void): Promise<number> {
  fn();
  await gpu().sync(); // compile + warm the pool
  for (let reps = 1;; reps *= 2) {
    const t0 = performance.now();
    calls(fn, reps);
    await gpu().sync();
    if (performance.now() - t0 >= ROUND_MS || reps >= 4096) return reps;
  }
}

/** Median seconds per call of `fn` (each round: `reps` calls, then one GPU wait). */
async function time(fn: () => void, reps: number, rounds: number): Promise<number> {
  fn();
  await gpu().sync(); // compile + warm the pool
  const ts: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const t0 = performance.now();
    calls(fn, reps);
    await gpu().sync();
    ts.push((performance.now() - t0) / 1000 / reps);
  }
  ts.sort((a, b) => a - b);
  return ts[Math.floor(ts.length / 2)];
}

/** Seconds per call of `fn` over `reps` calls and one GPU wait. */
async function once(fn: () => void, reps: number): Promise<number> {
  const t0 = performance.now();
  calls(fn, reps);
  await gpu().sync();
  return (performance.now() - t0) / 1000 / reps;
}

const mid = (v: number[]) => [...v].sort((p, q) => p - q)[v.length >> 1];

/** The peer of every round: an n×n·n×n matmul (`run` once), its FLOPs and calls a round. */
export interface MatmulPeer {
  run: () => void;
  flops: number;
  /** Calls a round (`repsFor`), set at the first round. */
  reps: number;
  dispose: () => void;
}

/** The n = 1024 matmul peer (its calls a round found at the first round; 0 until then). */
export function matmulPeer(n = 1024): MatmulPeer {
  const rng = new Rng(1);
  const a = rand([n, n], rng), b = rand([n, n], rng);
  return {
    run: () => tidy(() => void matmul(a, b)),
    flops: 2 * n ** 3,
    reps: 0,
    dispose: () => {
      a.dispose();
      b.dispose();
    },
  };
}

/** Matmul GFLOP/s of an n×n·n×n product on this adapter (median of `rounds`). */
export async function matmulGflops(n = 1024, rounds = 5): Promise<number> {
  const mm = matmulPeer(n);
  const s = await time(mm.run, await repsFor(mm.run), rounds);
  mm.dispose();
  return mm.flops / s / 1e9;
}

/** Vec4s a traffic kernel handles an invocation. */
const PER = 8;

/** A kernel that writes `n` floats (vec4 stores, no loads): the floor of producing them. */
function writeFloor(n: number): { run: () => void; dispose: () => void } {
  const y = empty([Math.ceil(n / 4) * 4]), n4 = y.size / 4;
  const code = `@group(0) @binding(0) var<storage, read_write> y: array<vec4<f32>>;
${mainEach(n4, PER)}
    y[i] = vec4<f32>(f32(i));
  }
}`;
  return { run: () => run(code, [y], grid(Math.ceil(n4 / PER))), dispose: () => y.dispose() };
}

/** A kernel that reads `n` floats (vec4 loads; one vec4 stored per 8 read). */
function readFloor(n: number): { run: () => void; dispose: () => void } {
  const x = empty([Math.ceil(n / 4 / PER) * 4 * PER]), n8 = x.size / 4 / PER;
  const y = empty([n8 * 4]);
  const code = `@group(0) @binding(0) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> y: array<vec4<f32>>;
${mainEach(n8, 1)}
    var s = vec4<f32>(0.0);
    for (var k = 0u; k < ${PER}u; k++) { s = s + x[i * ${PER}u + k]; }
    y[i] = s;
  }
}`;
  return {
    run: () => run(code, [x, y], grid(n8)),
    dispose: () => {
      x.dispose();
      y.dispose();
    },
  };
}

/**
 * Measures one layer: per round the matmul peer, the forward, and forward + backward (the
 * backward is the round's difference); medians of the times and of the rounds' ratios.
 */
export async function benchLayer(l: ConvLayer, rounds = 5, peer = matmulPeer()) {
  const rng = new Rng(2);
  const x = rand(l.x, rng);
  const w = rand([l.cout, l.x[1], l.k, l.k], rng);
  const b = rand([l.cout], rng);
  w.requiresGrad = b.requiresGrad = true;
  x.requiresGrad = l.inputGrad;
  const g = convGeometry(l.x, w.shape, { padding: l.padding });
  const flops = 2 * g.N * g.Cout * g.OH * g.OW * g.Cg * g.KH * g.KW;
  const outShape = [g.N, g.Cout, g.OH, g.OW];
  const seed = rand(outShape, rng);
  const forward = () => tidy(() => void conv2d(x, w, b, { padding: l.padding }));
  const implicitFn = () => conv2dImplicit(x, w, b, g).dispose();
  const implicit = await time(implicitFn, await repsFor(implicitFn), rounds);
  const both = () => {
    tidy(() => backward(conv2d(x, w, b, { padding: l.padding }), seed));
    for (const t of [x, w, b]) {
      t.grad?.dispose();
      t.grad = null;
    }
  };
  const bwdFlops = flops * (l.inputGrad ? 2 : 1);
  // The floors: write the output; read the output gradient (+ write the input gradient).
  const floors = [writeFloor(seed.size), readFloor(seed.size)];
  if (l.inputGrad) floors.push(writeFloor(x.size));
  const fwdFloor = floors[0].run, bwdFloor = () => floors.slice(1).forEach((f) => f.run());
  // Each timed function's own calls a round (see the module documentation).
  if (!peer.reps) peer.reps = await repsFor(peer.run);
  const reps = {
    f: await repsFor(forward),
    fb: await repsFor(both),
    ff: await repsFor(fwdFloor),
    bf: await repsFor(bwdFloor),
  };
  const fwds: number[] = [], bwds: number[] = [], mms: number[] = [];
  const fwdRatios: number[] = [], bwdRatios: number[] = [];
  const fwdCeilings: number[] = [], bwdCeilings: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const m = await once(peer.run, peer.reps), f = await once(forward, reps.f);
    const fb = await once(both, reps.fb), bw = Math.max(fb - f, 1e-9);
    const ff = await once(fwdFloor, reps.ff), bf = await once(bwdFloor, reps.bf);
    const rate = peer.flops / m;
    mms.push(m);
    fwds.push(f);
    bwds.push(bw);
    fwdRatios.push(flops / f / rate);
    bwdRatios.push(bwdFlops / bw / rate);
    fwdCeilings.push(flops / ff / rate);
    bwdCeilings.push(bwdFlops / bf / rate);
  }
  for (const t of [x, w, b, seed]) t.dispose();
  for (const f of floors) f.dispose();
  const fwd = mid(fwds), bwd = mid(bwds);
  return {
    flops,
    bwdFlops,
    fwd,
    bwd,
    implicit,
    implicitGflops: flops / implicit / 1e9,
    fwdGflops: flops / fwd / 1e9,
    bwdGflops: bwdFlops / bwd / 1e9,
    matmulGflops: peer.flops / mid(mms) / 1e9,
    fwdRatio: mid(fwdRatios),
    bwdRatio: mid(bwdRatios),
    fwdCeiling: mid(fwdCeilings),
    bwdCeiling: mid(bwdCeilings),
  };
}

/** Prints conv GFLOP/s per layer (forward, backward) beside the adapter's matmul GFLOP/s. */
export async function benchConv(): Promise<Record<string, unknown>> {
  const g = await initGpu();
  const rounds = flags.quick ? 1 : Number(argValue("--rounds") ?? 5);
  const layers: Record<string, unknown>[] = [];
  console.log(`# conv2d on ${g.info.description || g.info.vendor} (variant ${g.variant})`);
  console.log(
    "ratios: each round's layer GFLOP/s ÷ the n = 1024 matmul's in the same round (median); " +
      "ceiling: the same for kernels that only write the output (fwd) or read the output " +
      "gradient and write the input gradient (bwd)",
  );
  const peer = matmulPeer(1024), mms: number[] = [];
  const perNet = new Map<string, { flops: number; secs: number; n: number }>();
  for (const l of LAYERS) {
    const r = await benchLayer(l, rounds, peer);
    mms.push(r.matmulGflops);
    const part = (ms: number, gf: number, ratio: number, ceil: number) =>
      `${(ms * 1e3).toFixed(1).padStart(6)} ms ${gf.toFixed(1).padStart(5)} GFLOP/s ` +
      `${ratio.toFixed(2)}× (ceiling ${ceil.toFixed(2)}×)`;
    console.log(
      `${l.net.padEnd(13)} ${l.name.padEnd(23)} batch ${String(l.x[0]).padStart(2)}  fwd ${
        part(r.fwd, r.fwdGflops, r.fwdRatio, r.fwdCeiling)
      }  bwd ${part(r.bwd, r.bwdGflops, r.bwdRatio, r.bwdCeiling)}  matmul ${
        r.matmulGflops.toFixed(1)
      } | implicit GEMM fwd ${(r.fwd / r.implicit).toFixed(2)}× im2col`,
    );
    layers.push({
      net: l.net,
      layer: l.name,
      fwdMs: r.fwd * 1e3,
      bwdMs: r.bwd * 1e3,
      fwdGflops: r.fwdGflops,
      bwdGflops: r.bwdGflops,
      matmulGflops: r.matmulGflops,
      fwdRatioMatmul: r.fwdRatio,
      bwdRatioMatmul: r.bwdRatio,
      fwdCeiling: r.fwdCeiling,
      bwdCeiling: r.bwdCeiling,
    });
    const t = perNet.get(l.net) ?? { flops: 0, secs: 0, n: l.x[0] };
    t.flops += r.flops + r.bwdFlops;
    t.secs += r.fwd + r.bwd;
    perNet.set(l.net, t);
  }
  for (const [net, t] of perNet) {
    console.log(
      `${net}: conv layers fwd+bwd ${(t.secs * 1e3).toFixed(1)} ms per batch of ${t.n} → ` +
        `${(t.n / t.secs).toFixed(0)} images/s (convolutions alone), ` +
        `${(t.flops / t.secs / 1e9).toFixed(1)} GFLOP/s`,
    );
  }
  peer.dispose();
  const mm = mid(mms);
  console.log(`matmul 1024×1024·1024×1024: ${mm.toFixed(1)} GFLOP/s (median over the layers)`);
  return { bench: "conv", matmulGflops: mm, layers };
}

function argValue(name: string): string | undefined {
  const i = Deno.args.indexOf(name);
  return i >= 0 ? Deno.args[i + 1] : undefined;
}

if (import.meta.main) console.log(JSON.stringify(await benchConv()));
