/**
 * What a checkpoint keeps of a model: what training changes (parameters that take
 * gradients, and buffers), not its frozen parameters (`requiresGrad` false: a pretrained
 * backbone), which come back from the model's own files when a run resumes. They are
 * fingerprinted instead (names, shapes and a SHA-256 of their values), so a resume or warm
 * start with other frozen weights (another `--weights` file) is refused rather than mixing
 * them. VGG16's 14.7 M frozen weights were 59 MB of every intel checkpoint, twice with
 * early stopping's kept copy. A checkpoint written before this holds every parameter, and
 * still loads.
 *
 * @module
 */
import { type Module, type StateDict, trainedTensors } from "../core/nn/module.ts";
import type { Tensor } from "../core/tensor.ts";
import { UsageError } from "./pipeline.ts";

/** A model's frozen parameters as a checkpoint records them. */
export interface FrozenPrint {
  /** Their names, sorted. */
  names: string[];
  /** SHA-256 (hex) of each one's name, shape and float32 values, in that order. */
  sha256: string;
}

/** The frozen parameters, sorted by name. */
function frozenTensors(model: Module): [string, Tensor][] {
  return model.namedParameters().filter(([, t]) => !t.requiresGrad).sort(([a], [b]) =>
    a < b ? -1 : a > b ? 1 : 0
  );
}

/** `trainedTensors` read back, by name. */
export async function trainedState(model: Module): Promise<StateDict> {
  const out: StateDict = {};
  for (const [n, t] of trainedTensors(model)) {
    out[n] = { shape: [...t.shape], data: await t.data() };
  }
  return out;
}

/** The fingerprint of the frozen parameters (one readback of them), or undefined if none. */
export async function frozenPrint(model: Module): Promise<FrozenPrint | undefined> {
  const frozen = frozenTensors(model);
  return frozen.length ? await printOf(frozen) : undefined;
}

/** The fingerprint of these tensors (sorted by name). */
async function printOf(tensors: [string, Tensor][]): Promise<FrozenPrint> {
  const enc = new TextEncoder(), parts: Uint8Array[] = [];
  for (const [n, t] of tensors) {
    parts.push(enc.encode(`${n}[${t.shape.join(",")}]`));
    const d = await t.data();
    parts.push(new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
  }
  const all = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of parts) all.set(p, (at += p.length) - p.length);
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", all));
  return {
    names: tensors.map(([n]) => n),
    sha256: [...digest].map((b) => b.toString(16).padStart(2, "0")).join(""),
  };
}

/**
 * Checks that `model`'s tensors of the fingerprint's names (whether or not they are frozen
 * there: an imported `model.onnx` marks none) hold the values it was made from. Throws an
 * `Error` saying what differs.
 */
export async function checkFrozenIn(model: Module, print: FrozenPrint): Promise<void> {
  const own = new Map([...model.namedParameters(), ...model.namedBuffers()]);
  const missing = print.names.find((n) => !own.has(n));
  if (missing) throw new Error(`its frozen parameter ${missing} is not in the model`);
  const now = await printOf(print.names.map((n) => [n, own.get(n)!]));
  if (now.sha256 !== print.sha256) {
    throw new Error(
      `it was trained on other frozen weights (sha256 ${print.sha256.slice(0, 12)}…, ` +
        `these are ${now.sha256.slice(0, 12)}…): give the model files it was trained with`,
    );
  }
}

/**
 * Loads a checkpoint's weights into `model`: with a fingerprint, exactly the trained
 * tensors, after checking the model's frozen parameters are the ones it was trained with;
 * without one (an older checkpoint), every parameter. `what` starts the `UsageError`.
 */
export async function loadTrained(
  model: Module,
  ck: { weights: StateDict; frozen?: FrozenPrint },
  what: string,
): Promise<void> {
  try {
    if (!ck.frozen) return model.loadStateDict(ck.weights);
    const now = frozenTensors(model).map(([n]) => n);
    if (now.join() !== ck.frozen.names.join()) {
      throw new Error(
        `its frozen parameters were ${ck.frozen.names.length} (${
          ck.frozen.names.slice(0, 2).join(", ")
        } …), this model has ${now.length}`,
      );
    }
    await checkFrozenIn(model, ck.frozen);
    const want = new Set(trainedTensors(model).map(([n]) => n));
    const extra = Object.keys(ck.weights).filter((k) => !want.has(k));
    const missing = [...want].filter((k) => !(k in ck.weights));
    if (extra.length || missing.length) {
      throw new Error(
        `loadStateDict: missing ${missing.length} (${missing.slice(0, 3).join(", ")}), ` +
          `unexpected ${extra.length} (${extra.slice(0, 3).join(", ")})`,
      );
    }
    model.loadStateDict(ck.weights, { strict: false });
  } catch (e) {
    throw new UsageError(`${what}: ${(e as Error).message}`);
  }
}
