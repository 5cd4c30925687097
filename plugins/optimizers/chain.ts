/**
 * The optimizer machinery: an optimizer is a chain of links, each a pure `{ init, update }`
 * pair — `init` names the per-element state a link keeps (with its initial value) and
 * `update` is a few WGSL statements that transform the update direction `g`, the weight
 * `w` and the link's state. Regularizers (L2, L1, decoupled weight decay, gradient
 * clipping) are links too, so `[clipGradNorm(), l2(), adam()]` is one optimizer, and the
 * whole chain runs as ONE fused kernel per parameter buffer (per binding-sized window of
 * a parameter larger than one storage binding).
 *
 * Scalars that change between steps (the learning rate, Adam's bias corrections, a decayed
 * AdaGrad rate) never enter the WGSL source: each link computes them in float64 on the CPU
 * from the parameter's step count and its group's hyper-parameters, and they travel in one
 * small storage buffer (one record per parameter, uploaded with `gpu().upload` only when a
 * value changed). Changing `lr` therefore compiles nothing. The step count is counted per
 * parameter on the CPU (a parameter that had no gradient in a step does not advance, as in
 * PyTorch), so `step()` never reads anything back.
 *
 * Gradient clipping by global norm needs the norm of every gradient before any update: a
 * link with `globalNorm` makes `step()` first run one reduction kernel per parameter window
 * (the links before it, which must be stateless, are applied inside it) and one finishing
 * kernel that writes the norm into a GPU buffer the update kernels read.
 *
 * @example
 * const opt = new Optimizer(model.namedParameters(), [l2({ lambda: 5e-4 }), adam()], { lr: 1e-3 });
 * backward(loss); opt.step(); opt.zeroGrad();
 * opt.lr = 5e-4;                       // no recompilation
 * const saved = await opt.state();     // moments and step counts as plain typed arrays
 * opt.loadState(saved);
 *
 * @module
 */
import { gpu } from "../../core/gpu.ts";
import { grid, main1d } from "../../core/ops/kernel.ts";
import { full } from "../../core/ops/elementwise.ts";
import { noGrad } from "../../core/autograd.ts";
import { type Tensor, zeros } from "../../core/tensor.ts";

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
  lr?: number;
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

interface Entry {
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

/** Floats per window in the partial-sum buffer: at most this many workgroups per window. */
const PART = 64;
const NORM_WG = 256;

const isPair = (x: unknown): x is readonly [string, Tensor] => Array.isArray(x);
const isGroup = (x: unknown): x is ParamGroup =>
  typeof x === "object" && x !== null && !Array.isArray(x) && "params" in x;

/** Flattens nested link lists (`adamw()` returns two links). */
export function chain(...links: (Link | readonly Link[])[]): Link[] {
  return links.flat() as Link[];
}

/**
 * An optimizer built from a chain of links. Parameters without a gradient at `step()`
 * (frozen with `requiresGrad = false`, or unused this step) are skipped: no kernel, no
 * state allocated until their first update.
 */
export class Optimizer {
  /** The chain, in order. */
  readonly links: readonly Link[];
  #entries: Entry[] = [];
  #groups: Record<string, number>[] = [];
  #baseLr: number;
  #hyperNames: Set<string>;
  #slotKeys: { link: number; name: string; key: string; init: number }[] = [];
  #scalarIdx: Map<string, number>[] = [];
  #recFloats: number;
  #recStride: number; // bytes, a multiple of the offset alignment
  #rec: Float32Array;
  #sent: Float32Array;
  #recBuf: GPUBuffer | null = null;
  #partBuf: GPUBuffer | null = null;
  #normBuf: GPUBuffer | null = null;
  #partStride: number;
  #totalWindows = 0;
  #normLink = -1;
  #disposed = false;
  /** Generated WGSL by kernel and window length (the source depends on nothing else). */
  #code = new Map<string, string>();

  /**
   * @param params tensors, `[name, tensor]` pairs, or parameter groups
   *   (`{ params, lr?, …hyper }`), each group with its own values
   * @param links the chain (see `chain`), ending in an optimizer link such as `adam()`
   * @param options the base `lr` and hyper-parameter overrides for every group
   */
  constructor(
    params: ParamList | readonly ParamGroup[],
    links: readonly (Link | readonly Link[])[],
    options: OptimizerOptions = {},
  ) {
    this.links = chain(...links);
    if (this.links.length === 0) throw new Error("Optimizer: the chain has no links");
    // Hyper-parameter names: unique across links.
    const defaults: Record<string, number> = { lr: 0.001 };
    for (const l of this.links) {
      for (const [k, v] of Object.entries(l.hyper)) {
        if (k in defaults && k !== "lr") {
          throw new Error(
            `Optimizer: hyper-parameter "${k}" of link "${l.name}" is also used by another link`,
          );
        }
        defaults[k] = v;
      }
    }
    this.#hyperNames = new Set(Object.keys(defaults));
    this.#checkNames(options, "options");
    const base = { ...defaults, ...stripUndefined(options) };
    this.#baseLr = base.lr;
    // Slots and their saved names.
    const seenSlot = new Set<string>();
    this.links.forEach((l, k) => {
      for (const [name, init] of Object.entries(l.init)) {
        const key = `${l.name}.${name}`;
        if (seenSlot.has(key)) throw new Error(`Optimizer: two links keep state "${key}"`);
        seenSlot.add(key);
        this.#slotKeys.push({ link: k, name, key, init });
      }
      if (l.globalNorm) {
        if (this.#normLink >= 0) throw new Error("Optimizer: only one global-norm link per chain");
        this.#normLink = k;
        const before = this.links.slice(0, k).filter((b) => Object.keys(b.init).length > 0);
        if (before.length) {
          throw new Error(
            `Optimizer: "${l.name}" needs the global gradient norm, so the links before it must ` +
              `be stateless; move it before ${before.map((b) => `"${b.name}"`).join(", ")}`,
          );
        }
      }
    });
    // Groups.
    const groups: ParamGroup[] = (params as readonly unknown[]).length > 0 &&
        (params as readonly unknown[]).every(isGroup)
      ? [...(params as readonly ParamGroup[])]
      : [{ params: params as ParamList }];
    const seen = new Set<Tensor>();
    groups.forEach((g, gi) => {
      const { params: list, ...over } = g;
      this.#checkNames(over, `group ${gi}`);
      this.#groups.push({ ...base, ...stripUndefined(over as OptimizerOptions) });
      (list as readonly unknown[]).forEach((x, j) => {
        const [name, p] = isPair(x) ? x : [(x as Tensor).name ?? `${gi}.${j}`, x as Tensor];
        if (seen.has(p)) throw new Error(`Optimizer: parameter ${name} appears twice`);
        seen.add(p);
        const windows = gpu().windows(p.bytes);
        this.#entries.push({
          p,
          name,
          group: gi,
          index: this.#entries.length,
          step: 0,
          slots: null,
          windows,
          partBase: this.#totalWindows,
        });
        this.#totalWindows += windows.length;
      });
    });
    // Scalar layout of a record: [lr, link 0's scalars…, link 1's…].
    let n = 1;
    const probe: ScalarContext = { t: 1, lr: base.lr, h: base };
    for (const l of this.links) {
      const m = new Map<string, number>();
      for (const k of Object.keys(l.scalars(probe))) m.set(k, n++);
      this.#scalarIdx.push(m);
    }
    const align = gpu().offsetAlign;
    this.#recFloats = n;
    this.#recStride = Math.ceil((n * 4) / align) * align;
    this.#partStride = Math.ceil((PART * 4) / align) * align;
    const len = (this.#recStride / 4) * Math.max(1, this.#entries.length);
    this.#rec = new Float32Array(len);
    this.#sent = new Float32Array(len).fill(NaN);
  }

  #checkNames(o: object, where: string): void {
    for (const k of Object.keys(o)) {
      if (!this.#hyperNames.has(k)) {
        throw new Error(
          `Optimizer: unknown hyper-parameter "${k}" in ${where}; this chain (${this.chainName}) ` +
            `has: ${[...this.#hyperNames].join(", ")}`,
        );
      }
    }
  }

  /** The link names joined by ">". */
  get chainName(): string {
    return this.links.map((l) => l.name).join(">");
  }

  /**
   * The base learning rate. Setting it rescales every group's rate by the same factor
   * (groups keep their ratios; with a single group it simply sets the rate). Nothing is
   * recompiled: the new rates reach the GPU with the next `step()`.
   */
  get lr(): number {
    return this.#baseLr;
  }

  set lr(v: number) {
    const old = this.#baseLr;
    for (const g of this.#groups) g.lr = old !== 0 ? g.lr * (v / old) : v;
    this.#baseLr = v;
  }

  /** Number of parameter groups. */
  get groupCount(): number {
    return this.#groups.length;
  }

  /** A copy of group `k`'s hyper-parameters (`lr` included). */
  hyper(k = 0): Record<string, number> {
    return { ...this.group(k) };
  }

  /** Sets hyper-parameters (e.g. `{ lr: 0.01, beta1: 0.8 }`) of group `k`, or of all groups. */
  setHyper(values: OptimizerOptions, k?: number): void {
    this.#checkNames(values, "setHyper");
    const v = stripUndefined(values);
    for (const g of k === undefined ? this.#groups : [this.group(k)]) Object.assign(g, v);
    if (k === undefined && v.lr !== undefined) this.#baseLr = v.lr;
  }

  private group(k: number): Record<string, number> {
    const g = this.#groups[k];
    if (!g) throw new Error(`Optimizer: no group ${k} (have ${this.#groups.length})`);
    return g;
  }

  /** The parameters in order, with their names and groups. */
  parameters(): { name: string; param: Tensor; group: number }[] {
    return this.#entries.map((e) => ({ name: e.name, param: e.p, group: e.group }));
  }

  /**
   * Applies one update to every parameter that has a gradient: one fused kernel per
   * parameter window (plus, for a global-norm link, one reduction per window and one
   * finishing kernel). Records GPU work only; nothing is read back.
   */
  step(): void {
    if (this.#disposed) throw new Error("Optimizer: step() after dispose()");
    const live = this.#entries.filter((e) => e.p.requiresGrad && e.p.grad && !e.p.disposed);
    if (live.length === 0) return;
    const g = gpu();
    noGrad(() => {
      for (const e of live) {
        const gr = e.p.grad!;
        if (gr.size !== e.p.size) {
          throw new Error(
            `Optimizer: gradient of ${e.name} has shape [${gr.shape}], expected [${e.p.shape}]`,
          );
        }
        e.step++;
        this.#fillRecord(e);
        if (!e.slots) e.slots = this.#newSlots(e.p);
      }
      this.#uploadRecords();
      if (this.#normLink >= 0) this.#globalNorm(live);
      for (const e of live) {
        e.windows.forEach((w) => {
          const n = w.size / 4;
          const binds = [
            { buffer: this.#recBuf!, offset: e.index * this.#recStride, size: this.#recFloats * 4 },
            { buffer: e.p.grad!.buffer, ...w },
            ...(this.#normLink >= 0 ? [{ buffer: this.#normBuf!, offset: 0, size: 4 }] : []),
            { buffer: e.p.buffer, ...w },
            ...e.slots!.map((s) => ({ buffer: s.buffer, ...w })),
          ];
          g.dispatch(this.#updateCode(n), binds, grid(n));
        });
      }
    });
  }

  #fillRecord(e: Entry): void {
    const h = this.#groups[e.group];
    const off = (e.index * this.#recStride) / 4;
    this.#rec[off] = h.lr;
    const ctx: ScalarContext = { t: e.step, lr: h.lr, h };
    this.links.forEach((l, k) => {
      const idx = this.#scalarIdx[k];
      const vals = l.scalars(ctx);
      for (const [name, j] of idx) {
        const v = vals[name];
        if (typeof v !== "number") throw new Error(`link "${l.name}" gave no scalar "${name}"`);
        this.#rec[off + j] = v;
      }
    });
  }

  #uploadRecords(): void {
    const g = gpu();
    if (!this.#recBuf) this.#recBuf = g.acquire(this.#rec.byteLength);
    let lo = -1, hi = -1;
    for (let k = 0; k < this.#rec.length; k++) {
      if (!Object.is(this.#rec[k], this.#sent[k])) {
        if (lo < 0) lo = k;
        hi = k;
      }
    }
    if (lo < 0) return;
    g.upload(this.#recBuf, this.#rec.subarray(lo, hi + 1), lo * 4);
    this.#sent.set(this.#rec.subarray(lo, hi + 1), lo);
  }

  #newSlots(p: Tensor): Tensor[] {
    return this.#slotKeys.map((s) =>
      (s.init === 0 ? zeros(p.shape) : full(p.shape, s.init)).keep()
    );
  }

  /** WGSL shared by the update and reduction kernels: the links in [from, to). */
  #linkCode(from: number, to: number): string {
    const out: string[] = [];
    for (let k = from; k < to; k++) {
      const l = this.links[k];
      const idx = this.#scalarIdx[k];
      const vars: LinkVars = {
        s: (name) => {
          const j = idx.get(name);
          if (j === undefined) throw new Error(`link "${l.name}" uses unknown scalar "${name}"`);
          return `r[${j}u]`;
        },
        slot: (name) => {
          if (!(name in l.init)) throw new Error(`link "${l.name}" uses unknown slot "${name}"`);
          return `L${k}_${name}`;
        },
        lr: "r[0u]",
        norm: "nrm[0u]",
      };
      out.push(`  { // ${l.name}\n${l.update(vars)}\n  }`);
    }
    return out.join("\n");
  }

  #cached(key: string, make: () => string): string {
    let c = this.#code.get(key);
    if (c === undefined) this.#code.set(key, c = make());
    return c;
  }

  #updateCode(n: number): string {
    return this.#cached(`u${n}`, () => this.#makeUpdateCode(n));
  }

  #makeUpdateCode(n: number): string {
    const hasNorm = this.#normLink >= 0;
    const names = ["r", "gr", ...(hasNorm ? ["nrm"] : [])];
    const rw = ["wt", ...this.#slotKeys.map((_, j) => `s${j}`)];
    const decl = [
      ...names.map((v, k) => `@group(0) @binding(${k}) var<storage, read> ${v}: array<f32>;`),
      ...rw.map((v, k) =>
        `@group(0) @binding(${names.length + k}) var<storage, read_write> ${v}: array<f32>;`
      ),
    ].join("\n");
    const loads = this.#slotKeys.map((s, j) => `  var L${s.link}_${s.name} = s${j}[i];`);
    const stores = this.#slotKeys.map((s, j) => `  s${j}[i] = L${s.link}_${s.name};`);
    return `${decl}
${main1d(n)}
  _ = r[0u];${hasNorm ? "\n  _ = nrm[0u];" : ""}
  var g = gr[i];
  var w = wt[i];
${loads.join("\n")}
${this.#linkCode(0, this.links.length)}
  wt[i] = w;
${stores.join("\n")}
}`;
  }

  /** Records the global-norm reduction: partial sums per window, then the norm. */
  #globalNorm(live: Entry[]): void {
    const g = gpu();
    const partFloats = this.#partStride / 4;
    if (!this.#partBuf) {
      this.#partBuf = g.acquire(this.#partStride * this.#totalWindows);
      this.#normBuf = g.acquire(4);
    }
    g.clear(this.#partBuf, 0, this.#partStride * this.#totalWindows);
    for (const e of live) {
      e.windows.forEach((w, j) => {
        const n = w.size / 4;
        const wgs = Math.min(PART, Math.ceil(n / NORM_WG));
        const code = this.#cached(
          `r${n}`,
          () =>
            `@group(0) @binding(0) var<storage, read> r: array<f32>;
@group(0) @binding(1) var<storage, read> gr: array<f32>;
@group(0) @binding(2) var<storage, read> wt: array<f32>;
@group(0) @binding(3) var<storage, read_write> part: array<f32>;
var<workgroup> acc: array<f32, ${NORM_WG}>;
@compute @workgroup_size(${NORM_WG})
fn main(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  _ = r[0u];
  _ = wt[0u];
  var sum = 0.0;
  for (var i = wid.x * ${NORM_WG}u + lid.x; i < ${n}u; i = i + ${wgs * NORM_WG}u) {
    var g = gr[i];
    var w = wt[i];
${this.#linkCode(0, this.#normLink)}
    sum = sum + g * g;
  }
  acc[lid.x] = sum;
  workgroupBarrier();
  for (var k = ${NORM_WG / 2}u; k > 0u; k = k >> 1u) {
    if (lid.x < k) { acc[lid.x] = acc[lid.x] + acc[lid.x + k]; }
    workgroupBarrier();
  }
  if (lid.x == 0u) { part[wid.x] = acc[0]; }
}`,
        );
        g.dispatch(code, [
          { buffer: this.#recBuf!, offset: e.index * this.#recStride, size: this.#recFloats * 4 },
          { buffer: e.p.grad!.buffer, ...w },
          { buffer: e.p.buffer, ...w },
          { buffer: this.#partBuf!, offset: (e.partBase + j) * this.#partStride, size: PART * 4 },
        ], [wgs]);
      });
    }
    const total = this.#totalWindows * partFloats;
    const fin = this.#cached("f", () =>
      `@group(0) @binding(0) var<storage, read> part: array<f32>;
@group(0) @binding(1) var<storage, read_write> nrm: array<f32>;
var<workgroup> acc: array<f32, ${NORM_WG}>;
@compute @workgroup_size(${NORM_WG})
fn main(@builtin(local_invocation_id) lid: vec3u) {
  var sum = 0.0;
  for (var i = lid.x; i < ${total}u; i = i + ${NORM_WG}u) { sum = sum + part[i]; }
  acc[lid.x] = sum;
  workgroupBarrier();
  for (var k = ${NORM_WG / 2}u; k > 0u; k = k >> 1u) {
    if (lid.x < k) { acc[lid.x] = acc[lid.x] + acc[lid.x + k]; }
    workgroupBarrier();
  }
  if (lid.x == 0u) { nrm[0] = sqrt(acc[0]); }
}`);
    g.dispatch(fin, [
      { buffer: this.#partBuf!, offset: 0, size: total * 4 },
      { buffer: this.#normBuf!, offset: 0, size: 4 },
    ], [1]);
  }

  /** Clears every parameter's gradient. */
  zeroGrad(): void {
    for (const e of this.#entries) {
      e.p.grad?.dispose();
      e.p.grad = null;
    }
  }

  /**
   * Reads the state back (one round trip per state tensor): step counts, moments and every
   * group's hyper-parameters, as plain numbers and Float32Arrays.
   */
  async state(): Promise<OptimizerState> {
    const params: OptimizerState["params"] = [];
    for (const e of this.#entries) {
      const slots: Record<string, Float32Array> = {};
      if (e.slots) {
        for (let j = 0; j < this.#slotKeys.length; j++) {
          slots[this.#slotKeys[j].key] = await e.slots[j].data();
        }
      }
      params.push({ name: e.name, step: e.step, slots });
    }
    return {
      chain: this.chainName,
      lr: this.#baseLr,
      groups: this.#groups.map((g) => ({ ...g })),
      params,
    };
  }

  /**
   * Restores a state saved by `state()` (or built by hand: `slots` values may be any array
   * of numbers; a parameter without slots starts fresh). The chain, the number of groups
   * and parameters and every slot's length must match.
   */
  loadState(s: {
    chain?: string;
    lr?: number;
    groups?: Record<string, number>[];
    params: { name?: string; step: number; slots?: Record<string, ArrayLike<number>> }[];
  }): void {
    if (s.chain !== undefined && s.chain !== this.chainName) {
      throw new Error(
        `loadState: state is for chain "${s.chain}", this optimizer is "${this.chainName}"`,
      );
    }
    if (s.params.length !== this.#entries.length) {
      throw new Error(
        `loadState: ${s.params.length} parameters, this optimizer has ${this.#entries.length}`,
      );
    }
    if (s.groups) {
      if (s.groups.length !== this.#groups.length) {
        throw new Error(
          `loadState: ${s.groups.length} groups, this optimizer has ${this.#groups.length}`,
        );
      }
      s.groups.forEach((g, k) => {
        this.#checkNames(g, `loadState group ${k}`);
        Object.assign(this.#groups[k], g);
      });
    }
    if (s.lr !== undefined) this.#baseLr = s.lr;
    noGrad(() => {
      s.params.forEach((ps, k) => {
        const e = this.#entries[k];
        if (!Number.isInteger(ps.step)) {
          throw new Error(`loadState: step of ${e.name} is not an integer`);
        }
        e.step = ps.step;
        const given = ps.slots ?? {};
        const keys = Object.keys(given);
        if (keys.length === 0) {
          for (const t of e.slots ?? []) t.dispose();
          e.slots = null;
          return;
        }
        if (!e.slots) e.slots = this.#newSlots(e.p);
        for (const key of keys) {
          const j = this.#slotKeys.findIndex((x) => x.key === key);
          if (j < 0) {
            throw new Error(
              `loadState: unknown slot "${key}" for ${e.name}; have ${
                this.#slotKeys.map((x) => x.key).join(", ")
              }`,
            );
          }
          const v = given[key];
          if (v.length !== e.p.size) {
            throw new Error(
              `loadState: ${e.name} ${key} has ${v.length} values, expected ${e.p.size}`,
            );
          }
          gpu().upload(e.slots[j].buffer, v instanceof Float32Array ? v : Float32Array.from(v));
        }
      });
    });
  }

  /** Releases the state tensors and the optimizer's buffers (not the parameters). */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    const g = gpu();
    for (const e of this.#entries) for (const t of e.slots ?? []) t.dispose();
    for (const b of [this.#recBuf, this.#partBuf, this.#normBuf]) if (b) g.release(b);
    this.#recBuf = this.#partBuf = this.#normBuf = null;
  }
}

function stripUndefined(o: object): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(o)) {
    if (v === undefined) continue;
    if (typeof v !== "number" || Number.isNaN(v)) {
      throw new Error(`Optimizer: hyper-parameter "${k}" must be a number, got ${String(v)}`);
    }
    out[k] = v;
  }
  return out;
}
