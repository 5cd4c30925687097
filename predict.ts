/**
 * `deno task predict <model> <images> [flags]`: class predictions for a folder of images.
 *
 * <model> is an exported `.onnx` file, or a run folder / checkpoint: a run folder holding
 * `model.onnx` uses it (weights from `best.ckpt` or `last.ckpt` when present and
 * `--weights` is given); a bare checkpoint needs `--onnx <file>` for the architecture
 * (its parameter names must match the checkpoint's). Class names come from the model's
 * `classes` metadata or the checkpoint. Prints `path<TAB>class<TAB>probability` per image.
 *
 * Flags: --backend engine|ort-node|ort-wasm|ort-webgpu (default engine), --batch N (16),
 * --size N (input side when the model does not fix it; 150), --top K (1), --weights
 * (load the run's checkpoint into model.onnx), --onnx FILE.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { join } from "node:path";
import { noGrad } from "./core/autograd.ts";
import { initGpu } from "./core/gpu.ts";
import { fromArray, tidy } from "./core/tensor.ts";
import { importOnnx } from "./onnx/import.ts";
import { type OrtKind, ortSession } from "./onnx/ort.ts";
import { readOnnxFile } from "./onnx/read.ts";
import { writeOnnx } from "./onnx/write.ts";
import { BEST, LAST, loadCheckpoint } from "./stages/checkpoint.ts";
import { imageBatches } from "./stages/images.ts";
import { listUnlabelled } from "./stages/load.ts";

const USAGE = "usage: deno task predict <model.onnx | run folder | checkpoint> <image folder> " +
  "[--backend engine|ort-node|ort-wasm|ort-webgpu] [--batch 16] [--size 150] [--top 1] [--weights] [--onnx FILE]";

function isDir(p: string): boolean {
  try {
    return Deno.statSync(p).isDirectory;
  } catch {
    return false;
  }
}

function exists(p: string): boolean {
  try {
    Deno.statSync(p);
    return true;
  } catch {
    return false;
  }
}

/** Probabilities from a row of scores (probabilities, log-probabilities or logits). */
export function toProbabilities(row: Float32Array): Float32Array {
  const sum = row.reduce((a, b) => a + b, 0);
  if (row.every((v) => v >= 0) && Math.abs(sum - 1) < 1e-3) return row;
  const m = Math.max(...row);
  const e = row.map((v) => Math.exp(v - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}

/** Resolves the model argument to an ONNX file and optional checkpoint. */
function resolveModel(
  arg: string,
  v: { weights?: boolean; onnx?: string },
): { onnx: string; ckpt?: string } {
  if (isDir(arg)) {
    const onnx = v.onnx ?? join(arg, "model.onnx");
    if (!exists(onnx)) {
      throw new Error(`${arg}: no model.onnx in the run folder (export one, or pass --onnx FILE)`);
    }
    const ck = [BEST, LAST].map((n) => join(arg, n)).find(exists);
    return { onnx, ckpt: v.weights ? ck : undefined };
  }
  if (!exists(arg)) throw new Error(`${arg}: not found`);
  if (arg.endsWith(".onnx")) return { onnx: arg };
  if (!v.onnx) {
    throw new Error(`${arg}: a checkpoint needs --onnx FILE for the network's architecture`);
  }
  return { onnx: v.onnx, ckpt: arg };
}

/** Runs the predict command on `args`; returns the process exit code. */
export async function main(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      backend: { type: "string", default: "engine" },
      batch: { type: "string", default: "16" },
      size: { type: "string", default: "150" },
      top: { type: "string", default: "1" },
      weights: { type: "boolean", default: false },
      onnx: { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help || positionals.length !== 2) {
    console.error(USAGE);
    return values.help ? 0 : 2;
  }
  const [modelArg, imagesArg] = positionals;
  const { onnx, ckpt } = resolveModel(modelArg, values);
  const model = await readOnnxFile(onnx);
  let classes: string[] = model.metadata.classes ? JSON.parse(model.metadata.classes) : [];
  const inShape = model.graph.inputs[0]?.type?.kind === "tensor"
    ? model.graph.inputs[0].type.shape ?? []
    : [];
  const side = Number(values.size);
  const h = typeof inShape[2] === "number" ? inShape[2] : side;
  const w = typeof inShape[3] === "number" ? inShape[3] : side;
  const fixedBatch = typeof inShape[0] === "number" ? inShape[0] : null;
  const batchSize = fixedBatch ?? Number(values.batch);
  const backend = values.backend as "engine" | OrtKind;
  let run: (x: Float32Array, shape: number[]) => Promise<Float32Array>;
  let close: () => Promise<void> = () => Promise.resolve();
  if (backend === "engine") {
    await initGpu();
    const net = importOnnx(model, { file: onnx, keepSource: false });
    if (ckpt) {
      const ck = await loadCheckpoint(ckpt);
      net.loadStateDict(ck.weights, { strict: false });
      if (!classes.length) {
        classes = Object.entries(ck.classes).sort((a, b) => a[1] - b[1]).map(([k]) => k);
      }
    }
    run = async (x, shape) => {
      const y = noGrad(() => tidy(() => net.forward(fromArray(x, shape))));
      const d = await y.data();
      y.dispose();
      return d;
    };
    close = () => Promise.resolve(net.dispose());
  } else {
    if (ckpt) throw new Error(`--weights works with --backend engine only`);
    const s = await ortSession(backend, writeOnnx(model));
    run = async (x, shape) => (await s.run(x, shape)).data;
    close = () => s.release();
  }
  const { files } = listUnlabelled(imagesArg);
  const top = Number(values.top);
  let n = 0;
  for await (
    const b of imageBatches(files, {
      batchSize,
      width: w,
      height: h,
      onSkip: (s) => console.error(`skipped ${s.path}: ${s.reason}`),
    })
  ) {
    let x = b.x, shape: number[] = b.shape;
    const real = b.shape[0];
    if (fixedBatch && real < fixedBatch) {
      x = new Float32Array((b.x.length / real) * fixedBatch);
      x.set(b.x);
      shape = [fixedBatch, ...b.shape.slice(1)];
    }
    const out = await run(x, shape);
    const k = out.length / shape[0];
    for (let i = 0; i < real; i++) {
      const p = toProbabilities(out.subarray(i * k, (i + 1) * k));
      const order = [...p.keys()].sort((a, c) => p[c] - p[a]).slice(0, top);
      const cols = order.map((c) => `${classes[c] ?? c}\t${p[c].toFixed(4)}`);
      console.log(`${b.paths[i]}\t${cols.join("\t")}`);
      n++;
    }
  }
  await close();
  console.error(`${n} images`);
  return 0;
}

if (import.meta.main) {
  try {
    Deno.exit(await main(Deno.args));
  } catch (e) {
    console.error(`predict: ${(e as Error).message}`);
    Deno.exit(1);
  }
}
