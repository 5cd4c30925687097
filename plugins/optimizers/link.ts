/**
 * The vocabulary of optimizer chains (see `chain.ts`): a link's `{ init, scalars, update }`,
 * what its WGSL may use, parameter lists and groups, options, and the saved state.
 *
 * @module
 */
import type { Tensor } from "../../core/tensor.ts";

/** What a link's scalar function sees: this parameter's step number and its group's values. */
export interface ScalarContext {
  /** The step number of this parameter, counting this one (1 on its first update). */
  t: number;
  /** The group's learning rate. */
  lr: number;
  /** The group's hyper-parameters (every link's, merged by name). */
  h: Readonly<Record<string, number>>;
}

/** Names a link's WGSL may use; `g` (direction) and `w` (weight) are plain `var`s. */
export interface LinkVars {
  /** The WGSL expression of one of this link's scalars (see `Link.scalars`). */
  s(name: string): string;
  /** The WGSL variable holding this element's value of one of this link's state slots. */
  slot(name: string): string;
  /** The WGSL expression of the learning rate. */
  lr: string;
  /** The global L2 norm of `g` as it enters this link (only for `globalNorm` links). */
  norm: string;
}

/** One link of an optimizer chain. */
export interface Link {
  /** Short name ("adam", "l2", …), used in messages and in saved state. */
  readonly name: string;
  /**
   * Hyper-parameters with their defaults, overridable per parameter group. Names must be
   * unique within a chain (they are the keys of a group's options).
   */
  readonly hyper: Readonly<Record<string, number>>;
  /** Per-element state: slot name → initial value (none for stateless links). */
  readonly init: Readonly<Record<string, number>>;
  /**
   * The link's scalars for one parameter and step, computed in float64 on the CPU and
   * rounded to float32 once. The same keys must come back every call.
   */
  scalars(c: ScalarContext): Record<string, number>;
  /** WGSL statements that update `g`, `w` and this link's slots for one element. */
  update(v: LinkVars): string;
  /** Whether `update` needs the global norm of the gradients (gradient clipping). */
  readonly globalNorm?: boolean;
}

/** A list of parameters: tensors, or `[name, tensor]` pairs as `Module.namedParameters()` gives. */
export type ParamList = readonly Tensor[] | readonly (readonly [string, Tensor])[];

/** A parameter group: its parameters and its own learning rate or other hyper-parameters. */
export interface ParamGroup {
  params: ParamList;
  lr?: number;
  [hyper: string]: number | ParamList | undefined;
}

/** Options of an Optimizer: the base learning rate and hyper-parameter overrides. */
export interface OptimizerOptions {
  /** The base learning rate of every group (default 0.001). */
  lr?: number;
  /** Any link's hyper-parameter by name (unknown names throw). */
  [hyper: string]: number | undefined;
}

/** Saved optimizer state: plain values and typed arrays (JSON-able after `Array.from`). */
export interface OptimizerState {
  /** The chain's link names joined by ">" (checked on load). */
  chain: string;
  /** The base learning rate (see `Optimizer.lr`). */
  lr: number;
  /** Every group's hyper-parameters, `lr` included. */
  groups: Record<string, number>[];
  /** Per parameter, in order: its name, step count and state slots (`"adam.m"` → values). */
  params: { name: string; step: number; slots: Record<string, Float32Array> }[];
}

/** Flattens nested link lists (`adamw()` returns two links). */
export function chain(...links: (Link | readonly Link[])[]): Link[] {
  return links.flat() as Link[];
}
