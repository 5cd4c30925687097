/**
 * Saving and restoring the per-parameter part of an optimizer's state: step counts and
 * state slots (`"adam.m"` → values), read back as Float32Arrays and uploaded again.
 *
 * @module
 */
import { gpu } from "../../core/gpu.ts";
import type { Tensor } from "../../core/tensor.ts";
import type { SlotKey } from "./layout.ts";
import type { OptimizerState } from "./link.ts";

/** What the optimizer keeps per parameter. */
export interface ParamEntry {
  p: Tensor;
  name: string;
  group: number;
  index: number;
  step: number;
  slots: Tensor[] | null;
  windows: { offset: number; size: number }[];
  /** First partial-sum region of this parameter's windows (global-norm links). */
  partBase: number;
}

/** A parameter's saved state as `loadState` accepts it (slots may be any number arrays). */
export interface ParamStateIn {
  /** The parameter's name as saved (informational: states match parameters by position). */
  name?: string;
  /** Updates applied so far (must be an integer); Adam's bias correction counts from it. */
  step: number;
  /** State slot values by key (`"adam.m"`), one per element; absent or empty: fresh slots. */
  slots?: Record<string, ArrayLike<number>>;
}

/** Reads every parameter's step and slots back (one round trip per slot tensor). */
export async function readParams(
  entries: readonly ParamEntry[],
  keys: readonly SlotKey[],
): Promise<OptimizerState["params"]> {
  const params: OptimizerState["params"] = [];
  for (const e of entries) {
    const slots: Record<string, Float32Array> = {};
    if (e.slots) {
      for (let j = 0; j < keys.length; j++) slots[keys[j].key] = await e.slots[j].data();
    }
    params.push({ name: e.name, step: e.step, slots });
  }
  return params;
}

/**
 * Restores steps and slots, one given state per entry (a parameter given no slots starts
 * fresh); every slot must be known and as long as its parameter. `newSlots` makes a parameter's initial slots.
 */
export function loadParams(
  entries: readonly ParamEntry[],
  keys: readonly SlotKey[],
  given: readonly ParamStateIn[],
  newSlots: (p: Tensor) => Tensor[],
): void {
  given.forEach((ps, k) => {
    const e = entries[k];
    if (!Number.isInteger(ps.step)) {
      throw new Error(`loadState: step of ${e.name} is not an integer`);
    }
    e.step = ps.step;
    const slots = ps.slots ?? {};
    const names = Object.keys(slots);
    if (names.length === 0) {
      for (const t of e.slots ?? []) t.dispose();
      e.slots = null;
      return;
    }
    if (!e.slots) e.slots = newSlots(e.p);
    for (const key of names) {
      const j = keys.findIndex((x) => x.key === key);
      if (j < 0) {
        throw new Error(
          `loadState: unknown slot "${key}" for ${e.name}; have ${
            keys.map((x) => x.key).join(", ")
          }`,
        );
      }
      const v = slots[key];
      if (v.length !== e.p.size) {
        throw new Error(`loadState: ${e.name} ${key} has ${v.length} values, expected ${e.p.size}`);
      }
      gpu().upload(e.slots[j].buffer, v instanceof Float32Array ? v : Float32Array.from(v));
    }
  });
}
