/**
 * ONNX Runtime, loaded on demand, behind one small interface: the native CPU build
 * (`onnxruntime-node`, a Node-API addon shipped inside the npm package; its install script,
 * which downloads CUDA files, is not needed and Deno does not run it), the web build's
 * wasm backend (multi-threaded through the default entry) and its WebGPU backend (the
 * `onnxruntime-web/webgpu` entry, single-threaded). Nothing is imported until asked for,
 * so the engine runs without them. The native build's telemetry is turned off
 * (`ORT_DISABLE_TELEMETRY=1` unless the user set it): it wrote files into TMPDIR on every
 * run.
 *
 * @module
 */
import { assertGpuAllowed, ensureRuntimeDir } from "../core/gpu.ts";

/** The ONNX Runtime backends this project can use. */
export type OrtKind = "ort-node" | "ort-wasm" | "ort-webgpu";

/** A loaded model ready to run. */
export interface OrtRunner {
  readonly kind: OrtKind;
  readonly inputName: string;
  readonly outputName: string;
  /** Runs the model on one input (float32, row-major) and returns its first output. */
  run(x: Float32Array, dims: readonly number[]): Promise<{ data: Float32Array; dims: number[] }>;
  /** Frees the session. */
  release(): Promise<void>;
}

/** Options of `ortSession`. */
export interface OrtOptions {
  /** Threads for the CPU backends (default: all cores). */
  threads?: number;
}

// Specifiers kept in variables so `deno check` does not need the packages and the
// engine never loads them unless a backend is asked for.
const NODE = "npm:onnxruntime-node@1.30.0";
const WEB = "npm:onnxruntime-web@1.30.0";
const WEB_GPU = "npm:onnxruntime-web@1.30.0/webgpu";

// deno-lint-ignore no-explicit-any
type Ort = any;
const loaded = new Map<string, Promise<Ort>>();

function load(spec: string): Promise<Ort> {
  let p = loaded.get(spec);
  if (!p) {
    p = import(spec).then((m) => m.default ?? m);
    loaded.set(spec, p);
  }
  return p;
}

/**
 * Opens `model` (ONNX bytes) on an ONNX Runtime backend. Rejects with a one-line reason
 * when the backend cannot load here.
 *
 * @example
 * const r = await ortSession("ort-node", writeOnnx(model));
 * const { data } = await r.run(x, [8, 3, 150, 150]);
 */
export async function ortSession(
  kind: OrtKind,
  model: Uint8Array,
  opts: OrtOptions = {},
): Promise<OrtRunner> {
  assertGpuAllowed(`ortSession(${kind})`);
  ensureRuntimeDir();
  const threads = opts.threads ?? navigator.hardwareConcurrency ?? 1;
  let ort: Ort;
  let sessionOpts: Record<string, unknown>;
  try {
    if (kind === "ort-node") {
      // The native library's telemetry otherwise leaves a session file and a log per
      // process in TMPDIR (`.ses`, `mat-debug-<pid>.log`): every scheduled run would add
      // one. The user's own setting wins.
      if (Deno.env.get("ORT_DISABLE_TELEMETRY") === undefined) {
        Deno.env.set("ORT_DISABLE_TELEMETRY", "1");
      }
      ort = await load(NODE);
      sessionOpts = { intraOpNumThreads: threads, graphOptimizationLevel: "all" };
    } else if (kind === "ort-wasm") {
      ort = await load(WEB);
      ort.env.wasm.numThreads = threads;
      sessionOpts = { executionProviders: ["wasm"], graphOptimizationLevel: "all" };
    } else {
      ort = await load(WEB_GPU);
      ort.env.wasm.numThreads = 1;
      sessionOpts = { executionProviders: ["webgpu"], graphOptimizationLevel: "all" };
    }
  } catch (e) {
    throw new Error(`${kind}: cannot load ONNX Runtime: ${firstLine(e)}`);
  }
  let session: Ort;
  try {
    session = await ort.InferenceSession.create(model, sessionOpts);
  } catch (e) {
    throw new Error(`${kind}: cannot create a session: ${firstLine(e)}`);
  }
  const inputName: string = session.inputNames[0];
  const outputName: string = session.outputNames[0];
  return {
    kind,
    inputName,
    outputName,
    async run(x, dims) {
      const feeds = { [inputName]: new ort.Tensor("float32", x, [...dims]) };
      const out = await session.run(feeds);
      const t = out[outputName];
      const data = t.data as Float32Array;
      // The web builds may hand out views of their heap: copy before the next run.
      const copy = new Float32Array(data);
      t.dispose?.();
      return { data: copy, dims: [...t.dims] };
    },
    async release() {
      await session.release?.();
    },
  };
}

function firstLine(e: unknown): string {
  return String((e as Error)?.message ?? e).split("\n")[0];
}
