/**
 * `deno task predict <model> <images...> [flags]`: class predictions for images.
 *
 * <model> is an exported `.onnx` file, or a run folder / checkpoint: a run folder holding
 * `model.onnx` uses it (with `--weights`, loading the run's `best.ckpt`, else `last.ckpt`,
 * into it); a bare checkpoint needs `--onnx <file>` for the architecture. A checkpoint
 * must fit the architecture exactly (names and shapes). Class names come from the model's
 * `classes` metadata or the checkpoint. <images...> are image files and folders (searched
 * recursively), mixed as you like.
 *
 * Output on stdout: a table (path, class, probability and, with `--top K`, the next
 * classes), or `--csv` (header `path,class,probability[,class2,probability2…]`), or
 * `--json` (an array of `{path, top: [{class, probability}]}`). The count goes to stderr.
 *
 * Flags: --backend engine|ort-node|ort-wasm|ort-webgpu (default engine), --batch N (16),
 * --size N (input side when the model does not fix it; 150), --top K (1), --weights,
 * --onnx FILE, --csv, --json, --plugin FILE (repeatable: imports a plugin file first, e.g. one
 * whose ONNX codec the model needs).
 *
 * Exit codes: 0 done; 2 bad input (flags, paths, model or checkpoint), refused with one
 * line and the usage line before any GPU work where it can be known before; 1 an error
 * during inference.
 *
 * @module
 */
import { noGrad } from "./core/autograd.ts";
import { initGpu } from "./core/gpu.ts";
import { fromArray, tidy } from "./core/tensor.ts";
import { importOnnx, OnnxImportError } from "./onnx/import.ts";
import { ortSession } from "./onnx/ort.ts";
import { writeOnnx } from "./onnx/write.ts";
import { checkFrozenIn } from "./training/frozen.ts";
import { oneLine } from "./training/cli_args.ts";
import { loadPlugins, takePluginFlags } from "./training/plugin_files.ts";
import { imageBatches } from "./stages/images.ts";
import { toProbabilities } from "./stages/metrics.ts";
import { csvLine } from "./stages/log/csv.ts";
import type { FileEntry } from "./stages/types.ts";
import {
  checkFit,
  type InputSpec,
  inputSpec,
  listImages,
  parsePredictArgs,
  type PredictArgs,
  type ResolvedModel,
  resolveModel,
  USAGE,
  UsageError,
} from "./training/predict_args.ts";

/** One image's top classes. */
export interface Prediction {
  path: string;
  top: { class: string; probability: number }[];
}

/** Writes predictions as they come, in the chosen format. */
interface Sink {
  row(p: Prediction): void;
  end(): void;
}

const round = (p: number) => Number(p.toFixed(6));

function csvSink(write: (line: string) => void): Sink {
  let header = false;
  return {
    row(p) {
      if (!header) {
        const cols = ["path"];
        p.top.forEach((_, k) => {
          const s = k === 0 ? "" : String(k + 1);
          cols.push(`class${s}`, `probability${s}`);
        });
        write(csvLine(cols));
        header = true;
      }
      write(csvLine([p.path, ...p.top.flatMap((t) => [t.class, round(t.probability)])]));
    },
    end() {},
  };
}

function jsonSink(write: (line: string) => void): Sink {
  const rows: Prediction[] = [];
  return {
    row(p) {
      rows.push({
        path: p.path,
        top: p.top.map((t) => ({ ...t, probability: round(t.probability) })),
      });
    },
    end() {
      write(JSON.stringify(rows, null, 2));
    },
  };
}

/** An aligned table; the column widths come from every path and class name up front. */
function tableSink(write: (line: string) => void, paths: string[], classes: string[]): Sink {
  const pw = Math.max(4, ...paths.map((p) => p.length));
  const cw = Math.max(5, ...classes.map((c) => c.length), 3);
  let header = false;
  return {
    row(p) {
      if (!header) {
        const cols = p.top.map((_, k) => {
          const s = k === 0 ? "" : String(k + 1);
          return `${`class${s}`.padEnd(cw)}  ${`probability${s}`.padStart(12)}`;
        });
        write(`${"path".padEnd(pw)}  ${cols.join("  ")}`.trimEnd());
        header = true;
      }
      const cols = p.top.map((t) =>
        `${t.class.padEnd(cw)}  ${t.probability.toFixed(4).padStart(12)}`
      );
      write(`${p.path.padEnd(pw)}  ${cols.join("  ")}`.trimEnd());
    },
    end() {},
  };
}

/** Runs a batch [N, C, H, W] through the model; returns the scores, N × classes. */
type Runner = (x: Float32Array, shape: number[]) => Promise<Float32Array>;

async function openRunner(
  r: ResolvedModel,
  a: PredictArgs,
): Promise<{ run: Runner; close: () => Promise<void> }> {
  if (a.backend !== "engine") {
    const s = await ortSession(a.backend, writeOnnx(r.model));
    return { run: async (x, shape) => (await s.run(x, shape)).data, close: () => s.release() };
  }
  await initGpu();
  let net;
  try {
    net = importOnnx(r.model, { file: r.onnx, keepSource: false });
  } catch (e) {
    if (e instanceof OnnxImportError) throw new UsageError(e.message);
    throw e;
  }
  if (r.ckpt) {
    // A checkpoint without the frozen parameters (a pretrained backbone) takes them from
    // the model file, once their fingerprint says they are the ones it was trained with.
    const frozen = r.ckpt.frozen;
    try {
      checkFit(r.ckpt.weights, net, r.ckptPath!, r.onnx, new Set(frozen?.names));
      if (frozen) {
        await checkFrozenIn(net, frozen).catch((e) => {
          throw new UsageError(
            `checkpoint ${r.ckptPath} does not fit ${r.onnx}: ${(e as Error).message}`,
          );
        });
      }
    } catch (e) {
      net.dispose();
      throw e;
    }
    net.loadStateDict(r.ckpt.weights, { strict: !frozen });
  }
  net.eval();
  const run: Runner = async (x, shape) => {
    const y = noGrad(() => tidy(() => net.forward(fromArray(x, shape))));
    try {
      return await y.data();
    } finally {
      y.dispose();
    }
  };
  return { run, close: () => Promise.resolve(net.dispose()) };
}

/** Runs the predict command on `args`; returns the process exit code. */
export async function main(args: string[]): Promise<number> {
  let a: PredictArgs, r: ResolvedModel, spec: InputSpec, files: FileEntry[];
  try {
    const { files: plugins, rest } = takePluginFlags(args);
    await loadPlugins(plugins);
    a = parsePredictArgs(rest);
    if (a.help) {
      console.log(USAGE);
      return 0;
    }
    r = await resolveModel(a);
    spec = inputSpec(r, a.size);
    files = listImages(a.images);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    console.error(`predict: ${e.message}`);
    console.error(USAGE);
    return 2;
  }
  let runner;
  try {
    // A model the importer cannot build, or a checkpoint that does not fit it: still bad
    // input (exit 2), found once the network exists.
    runner = await openRunner(r, a);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    console.error(`predict: ${e.message}`);
    return 2;
  }
  const write = (line: string) => console.log(line);
  const sink = a.format === "csv"
    ? csvSink(write)
    : a.format === "json"
    ? jsonSink(write)
    : tableSink(write, files.map((f) => f.path), spec.classes);
  const batchSize = spec.fixedBatch ?? a.batch;
  let n = 0;
  try {
    const batches = imageBatches(files, {
      batchSize,
      width: spec.width,
      height: spec.height,
      normalize: spec.normalize,
      onSkip: (s) => console.error(`skipped ${s.path}: ${s.reason}`),
    });
    for await (const b of batches) {
      let x = b.x, shape: number[] = b.shape;
      const real = b.shape[0];
      if (spec.fixedBatch && real < spec.fixedBatch) {
        x = new Float32Array((b.x.length / real) * spec.fixedBatch);
        x.set(b.x);
        shape = [spec.fixedBatch, ...b.shape.slice(1)];
      }
      const out = await runner.run(x, shape);
      const k = out.length / shape[0];
      if (!Number.isInteger(k) || k < 1) {
        throw new Error(`the model gave ${out.length} values for a batch of ${shape[0]}`);
      }
      for (let i = 0; i < real; i++) {
        const p = toProbabilities(out.subarray(i * k, (i + 1) * k));
        const order = [...p.keys()].sort((u, v) => p[v] - p[u]).slice(0, a.top);
        sink.row({
          path: b.paths[i],
          top: order.map((c) => ({ class: spec.classes[c] ?? String(c), probability: p[c] })),
        });
        n++;
      }
    }
  } finally {
    await runner.close();
  }
  sink.end();
  console.error(`${n} images`);
  if (n === 0) {
    console.error(`predict: none of the ${files.length} images could be decoded`);
    return 1;
  }
  return 0;
}

if (import.meta.main) {
  try {
    Deno.exit(await main(Deno.args));
  } catch (e) {
    console.error(`predict: ${oneLine(e)}`);
    Deno.exit(1);
  }
}
