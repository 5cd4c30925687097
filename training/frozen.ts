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
  if (!frozen.length) return undefined;
  const enc = new TextEncoder(), parts: Uint8Array[] = [];
  for (const [n, t] of frozen) {
    parts.push(enc.encode(`${n}[${t.shape.join(",")}]`));
    const d = await t.data();
    parts.push(new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
  }
  const all = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of parts) all.set(p, (at += p.length) - p.length);
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", all));
  return {
    names: frozen.map(([n]) => n),
    sha256: [...digest].map((b) => b.toString(16).padStart(2, "0")).join(""),
  };
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
    const now = await frozenPrint(model);
    if (!now || now.names.join() !== ck.frozen.names.join()) {
      throw new Error(
        `its frozen parameters were ${ck.frozen.names.length} (${
          ck.frozen.names.slice(0, 2).join(", ")
        } …), this model has ${now?.names.length ?? 0}`,
      );
    }
    if (now.sha256 !== ck.frozen.sha256) {
      throw new Error(
        `it was trained on other frozen weights (sha256 ${ck.frozen.sha256.slice(0, 12)}…, ` +
          `these are ${now.sha256.slice(0, 12)}…): give the model files it was trained with`,
      );
    }
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
