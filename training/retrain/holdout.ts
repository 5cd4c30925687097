/**
 * The gate's measurement: a run's exported `model.onnx` evaluated on a fixed hold-out folder
 * (class-per-folder, the same class names as the model's), giving accuracy, mean loss
 * (−log p of the true class) and recall per class. Candidate and champion are measured by
 * this same code on the same files, so their figures compare.
 */
import { noGrad } from "../../core/autograd.ts";
import { initGpu } from "../../core/gpu.ts";
import { fromArray, tidy } from "../../core/tensor.ts";
import { importOnnx } from "../../onnx/import.ts";
import { toProbabilities } from "../../stages/metrics.ts";
import { imageBatches } from "../../stages/images.ts";
import { listImageFolder } from "../../stages/load.ts";
import { inputSpec, resolveModel } from "../predict_args.ts";
import { DataError, type FileEntry } from "../../stages/types.ts";
import type { Figures } from "./store.ts";

/** The hold-out's files and class names (a class-per-folder tree). */
export interface Holdout {
  dir: string;
  classes: string[];
  files: FileEntry[];
}

/** Lists a hold-out folder (DataError when it is missing or empty). */
export function openHoldout(dir: string): Holdout {
  const f = listImageFolder(dir);
  return { dir, classes: f.classes, files: f.files };
}

/** Evaluates the model of `runDir` (its model.onnx) on the hold-out. */
export async function evaluateRun(runDir: string, h: Holdout): Promise<Figures> {
  const r = await resolveModel({
    help: false,
    model: runDir,
    images: [],
    backend: "engine",
    batch: 16,
    size: 150,
    top: 1,
    weights: false,
    format: "table",
  });
  const spec = inputSpec(r, 150);
  const index = h.classes.map((c) => spec.classes.indexOf(c));
  const unknown = h.classes.filter((_, k) => index[k] < 0);
  if (unknown.length) {
    throw new DataError(
      `hold-out ${h.dir} has class(es) ${unknown.join(", ")} that ${r.onnx} does not know`,
    );
  }
  await initGpu();
  const net = importOnnx(r.model, { file: r.onnx, keepSource: false });
  net.eval();
  const hits = new Array(h.classes.length).fill(0), seen = new Array(h.classes.length).fill(0);
  let loss = 0, right = 0, n = 0;
  try {
    const batches = imageBatches(h.files, {
      batchSize: spec.fixedBatch ?? 16,
      width: spec.width,
      height: spec.height,
      normalize: spec.normalize,
      onSkip: (s) => console.warn(`hold-out: skipped ${s.path}: ${s.reason}`),
    });
    for await (const b of batches) {
      const real = b.shape[0];
      let x = b.x, shape: number[] = [...b.shape];
      if (spec.fixedBatch && real < spec.fixedBatch) {
        x = new Float32Array((b.x.length / real) * spec.fixedBatch);
        x.set(b.x);
        shape = [spec.fixedBatch, ...b.shape.slice(1)];
      }
      const y = noGrad(() => tidy(() => net.forward(fromArray(x, shape))));
      const out = await y.data();
      y.dispose();
      const k = out.length / shape[0];
      for (let i = 0; i < real; i++) {
        const p = toProbabilities(out.subarray(i * k, (i + 1) * k));
        const c = b.labels[i], want = index[c];
        let best = 0;
        for (let j = 1; j < k; j++) if (p[j] > p[best]) best = j;
        loss += -Math.log(Math.max(p[want], 1e-12));
        seen[c]++;
        if (best === want) {
          right++;
          hits[c]++;
        }
        n++;
      }
    }
  } finally {
    net.dispose();
  }
  if (!n) throw new DataError(`hold-out ${h.dir} has no usable images`);
  return {
    accuracy: right / n,
    loss: loss / n,
    recall: Object.fromEntries(h.classes.map((c, k) => [c, seen[k] ? hits[k] / seen[k] : 0])),
    count: n,
  };
}
