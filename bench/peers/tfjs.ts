/**
 * TensorFlow.js (WebGPU backend) peer for the training benchmarks.
 *
 * Measures training throughput (images per second) of the benchmark MLP and CNN with
 * random input, on whatever adapter `navigator.gpu` gives this process. Each timed step
 * runs forward, backward and the optimizer update; nothing is read back between steps
 * (one readback at the end of the timed loop), which is TensorFlow.js at its fastest.
 *
 * Run it in its own process so its WebGPU device does not share the adapter with ours:
 * ```
 * DENO_WEBGPU_BACKEND=vulkan deno run -A bench/peers/tfjs.ts mlp|cnn [steps]
 * ```
 * prints one JSON line: `{"peer":"tfjs-webgpu","model":"mlp","imagesPerSec":...}`.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import "@tensorflow/tfjs-backend-webgpu";

/** Options of the TensorFlow.js throughput runs. */
export interface TfjsBenchOptions {
  /** Images per step (default 64). */
  batch?: number;
  /** Untimed steps first (shader compilation; default 5). */
  warmup?: number;
  /** Timed steps (default 50 for the MLP, 20 for the CNN). */
  steps?: number;
  /** Learning rate (default 0.01 for SGD, 0.001 for Adam). */
  lr?: number;
}

/** The TensorFlow.js backend in use after `initTfjs` (normally "webgpu"). */
export async function initTfjs(): Promise<string> {
  if (tf.getBackend() !== "webgpu") {
    const ok = await tf.setBackend("webgpu");
    if (!ok) throw new Error("TensorFlow.js: the webgpu backend failed to initialise");
  }
  await tf.ready();
  return tf.getBackend();
}

/** Random input in [0, 1) and random one-hot labels over 10 classes. */
function randomBatch(
  shape: number[],
  batch: number,
  classes = 10,
): { x: tf.Tensor; y: tf.Tensor } {
  const x = tf.randomUniform([batch, ...shape], 0, 1, "float32", 1);
  const labels = tf.randomUniform([batch], 0, classes, "int32", 2);
  const y = tf.cast(tf.oneHot(labels as tf.Tensor1D, classes), "float32");
  labels.dispose();
  return { x, y };
}

/** Mean negative log-likelihood of log-softmax(logits): softmax cross-entropy. */
function nllOfLogSoftmax(logits: tf.Tensor, y: tf.Tensor): tf.Scalar {
  return tf.neg(tf.mean(tf.sum(tf.mul(y, tf.logSoftmax(logits)), 1))) as tf.Scalar;
}

async function timeSteps(
  step: () => void,
  warmup: number,
  steps: number,
  batch: number,
  probe: () => tf.Tensor,
): Promise<number> {
  for (let i = 0; i < warmup; i++) step();
  await probe().data(); // drain the queue before timing
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) step();
  await probe().data();
  const seconds = (performance.now() - t0) / 1000;
  return (steps * batch) / seconds;
}

/**
 * Training throughput of Flatten → Dense(784→256) → ReLU → Dense(256→10) → log-softmax,
 * NLL loss, plain SGD, batch 64 of random 28×28 input, in images per second.
 */
export async function tfjsMlpImagesPerSec(opts: TfjsBenchOptions = {}): Promise<number> {
  await initTfjs();
  const batch = opts.batch ?? 64;
  const model = tfl.sequential({
    layers: [
      tfl.layers.flatten({ inputShape: [28, 28] }),
      tfl.layers.dense({ units: 256, activation: "relu" }),
      tfl.layers.dense({ units: 10 }),
    ],
  });
  const optimizer = tf.train.sgd(opts.lr ?? 0.01);
  const { x, y } = randomBatch([28, 28], batch);
  const step = () => {
    tf.tidy(() => {
      optimizer.minimize(() => nllOfLogSoftmax(model.apply(x) as tf.Tensor, y), false);
    });
  };
  const rate = await timeSteps(
    step,
    opts.warmup ?? 5,
    opts.steps ?? 50,
    batch,
    () => model.getWeights()[0],
  );
  x.dispose();
  y.dispose();
  model.dispose();
  optimizer.dispose();
  return rate;
}

/**
 * Training throughput of Conv(1→16,3,same) → ReLU → MaxPool 2 → Conv(16→32,3,same) → ReLU →
 * MaxPool 2 → Flatten → Dense(1568→128) → ReLU → Dense(128→10), softmax cross-entropy,
 * Adam, batch 64 of random 28×28×1 input, in images per second.
 */
export async function tfjsCnnImagesPerSec(opts: TfjsBenchOptions = {}): Promise<number> {
  await initTfjs();
  const batch = opts.batch ?? 64;
  const model = tfl.sequential({
    layers: [
      tfl.layers.conv2d({
        inputShape: [28, 28, 1],
        filters: 16,
        kernelSize: 3,
        padding: "same",
        activation: "relu",
      }),
      tfl.layers.maxPooling2d({ poolSize: 2 }),
      tfl.layers.conv2d({ filters: 32, kernelSize: 3, padding: "same", activation: "relu" }),
      tfl.layers.maxPooling2d({ poolSize: 2 }),
      tfl.layers.flatten(),
      tfl.layers.dense({ units: 128, activation: "relu" }),
      tfl.layers.dense({ units: 10 }),
    ],
  });
  const optimizer = tf.train.adam(opts.lr ?? 0.001);
  const { x, y } = randomBatch([28, 28, 1], batch);
  const step = () => {
    tf.tidy(() => {
      optimizer.minimize(() => nllOfLogSoftmax(model.apply(x) as tf.Tensor, y), false);
    });
  };
  const rate = await timeSteps(
    step,
    opts.warmup ?? 5,
    opts.steps ?? 20,
    batch,
    () => model.getWeights()[0],
  );
  x.dispose();
  y.dispose();
  model.dispose();
  optimizer.dispose();
  return rate;
}

/**
 * Training throughput of the custom scene CNN (three Conv 5×5 → BatchNorm → ReLU →
 * AvgPool(3, 3) blocks with 64, 32, 16 filters, Flatten → Dense 4000 → BN → ReLU → Dropout →
 * Dense 4000 → BN → ReLU → Dropout → Dense 1000 → BN → ReLU → Dense 6), softmax
 * cross-entropy, Adam, batch 16 of random 150×150×3 input, in images per second.
 */
export async function tfjsSceneImagesPerSec(opts: TfjsBenchOptions = {}): Promise<number> {
  await initTfjs();
  const batch = opts.batch ?? 16;
  const block = (filters: number, first = false) => [
    tfl.layers.conv2d({ ...(first ? { inputShape: [150, 150, 3] } : {}), filters, kernelSize: 5 }),
    tfl.layers.batchNormalization(),
    tfl.layers.activation({ activation: "relu" }),
    tfl.layers.averagePooling2d({ poolSize: 3, strides: 3 }),
  ];
  const dense = (units: number, drop: boolean) => [
    tfl.layers.dense({ units }),
    tfl.layers.batchNormalization(),
    tfl.layers.activation({ activation: "relu" }),
    ...(drop ? [tfl.layers.dropout({ rate: 0.5 })] : []),
  ];
  const model = tfl.sequential({
    layers: [
      ...block(64, true),
      ...block(32),
      ...block(16),
      tfl.layers.flatten(),
      ...dense(4000, true),
      ...dense(4000, true),
      ...dense(1000, false),
      tfl.layers.dense({ units: 6 }),
    ],
  });
  const optimizer = tf.train.adam(opts.lr ?? 0.001);
  const { x, y } = randomBatch([150, 150, 3], batch, 6);
  const step = () => {
    tf.tidy(() => {
      optimizer.minimize(
        () => nllOfLogSoftmax(model.apply(x, { training: true }) as tf.Tensor, y),
        false,
      );
    });
  };
  const rate = await timeSteps(
    step,
    opts.warmup ?? 1,
    opts.steps ?? 3,
    batch,
    () => model.getWeights()[0],
  );
  x.dispose();
  y.dispose();
  model.dispose();
  optimizer.dispose();
  return rate;
}

/** GFLOP/s of TensorFlow.js's WebGPU matMul for n×n operands (median of 3 timed rounds). */
export async function tfjsMatmulGflops(n: number): Promise<number> {
  await initTfjs();
  const a = tf.randomUniform([n, n], -1, 1, "float32", 1);
  const b = tf.randomUniform([n, n], -1, 1, "float32", 2);
  const round = async (reps: number) => {
    const t0 = performance.now();
    let last: tf.Tensor | null = null;
    for (let r = 0; r < reps; r++) {
      last?.dispose();
      last = tf.matMul(a, b);
    }
    await last!.data();
    last!.dispose();
    return (performance.now() - t0) / 1000;
  };
  await round(1); // compiles
  const once = await round(1);
  const reps = Math.max(1, Math.min(50, Math.round(0.5 / once)));
  const rates = [];
  for (let i = 0; i < 3; i++) rates.push((2 * n ** 3 * reps) / (await round(reps)) / 1e9);
  a.dispose();
  b.dispose();
  return rates.sort((x, y) => x - y)[1];
}

/**
 * Runs this file in a child Deno process (its own WebGPU device) and returns its
 * images per second; the child inherits the environment (e.g. `DENO_WEBGPU_BACKEND`).
 */
export async function runTfjsPeer(model: "mlp" | "cnn" | "scene", steps?: number): Promise<number> {
  const args = ["run", "-A", new URL(import.meta.url).pathname, model];
  if (steps !== undefined) args.push(String(steps));
  const out = await new Deno.Command(Deno.execPath(), { args, stdout: "piped", stderr: "piped" })
    .output();
  const text = new TextDecoder().decode(out.stdout);
  const line = text.trim().split("\n").filter((l) => l.startsWith("{")).pop();
  if (!out.success || !line) {
    const err = new TextDecoder().decode(out.stderr).trim().split("\n").slice(-5).join("\n");
    throw new Error(`TensorFlow.js peer (${model}) failed: ${err || text}`);
  }
  return (JSON.parse(line) as { imagesPerSec: number }).imagesPerSec;
}

if (import.meta.main) {
  const model = Deno.args[0];
  if (model === "matmul") {
    const n = Number(Deno.args[1] ?? 1024);
    const gflops = await tfjsMatmulGflops(n);
    console.log(
      JSON.stringify({ peer: "tfjs-webgpu", model, backend: tf.getBackend(), n, gflops }),
    );
    Deno.exit(0);
  }
  if (model !== "mlp" && model !== "cnn" && model !== "scene") {
    console.error("usage: deno run -A bench/peers/tfjs.ts mlp|cnn|scene [steps] | matmul [n]");
    Deno.exit(2);
  }
  const steps = Deno.args[1] ? Number(Deno.args[1]) : undefined;
  const imagesPerSec = model === "mlp"
    ? await tfjsMlpImagesPerSec({ steps })
    : model === "cnn"
    ? await tfjsCnnImagesPerSec({ steps })
    : await tfjsSceneImagesPerSec({ steps });
  console.log(
    JSON.stringify({ peer: "tfjs-webgpu", model, backend: tf.getBackend(), imagesPerSec }),
  );
}
