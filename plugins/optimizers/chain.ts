/**
 * The optimizer machinery: an optimizer is a chain of links, each a pure `{ init, update }`
 * pair — `init` names the per-element state a link keeps (with its initial value) and
 * `update` is a few WGSL statements that transform the update direction `g`, the weight
 * `w` and the link's state. Regularizers (L2, L1, decoupled weight decay, gradient
 * clipping) are links too, so `[clipGradNorm(), l2(), adam()]` is one optimizer, and the
 * whole chain runs as ONE fused kernel for a group of parameters: as many as the adapter's
 * storage bindings allow (about 7 for Adam on 32 bindings), each read and written 4
 * elements an invocation; a parameter larger than one storage binding gets a kernel per
 * binding-sized window.
 *
 * Scalars that change between steps (the learning rate, Adam's bias corrections, a decayed
 * AdaGrad rate) never enter the WGSL source: each link computes them in float64 on the CPU
 * from the parameter's step count and its group's hyper-parameters, and they travel in one
 * small buffer the kernels read as a uniform (one record per parameter, uploaded with
 * `gpu().upload` only when a value changed). Changing `lr` therefore compiles nothing. The step count is counted per
 * parameter on the CPU (a parameter that had no gradient in a step does not advance, as in
 * PyTorch), so `step()` never reads anything back.
 *
 * Gradient clipping by global norm needs the norm of every gradient before any update: a
 * link with `globalNorm` makes `step()` first run the raw global-norm reduction of
 * `core/ops/reduce.ts`, one pass per parameter window (the links before it, which must be
 * stateless, are applied inside it) and one finishing pass that writes the norm into a GPU
 * buffer the update kernels read (`norm.ts`).
 *
 * The pieces: `link.ts` (the types), `layout.ts` (hyper-parameters, state slots, scalar
 * records), `wgsl.ts` (kernel generation), `norm.ts` (the global norm), `state.ts` (saving
 * and loading), this file
 * (the `Optimizer` that ties them together).
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
import { type BufferWindow, gpu } from "../../core/gpu.ts";
import { grid } from "../../core/ops/kernel.ts";
import { full } from "../../core/ops/raw.ts";
import { flatLayout, flatTexture, TEXTURE_MIN, textureReads } from "../../core/ops/texture_read.ts";
import { noGrad } from "../../core/tape.ts";
import { type Tensor, zeros } from "../../core/tensor.ts";
import { hyperDefaults, ScalarRecords, type SlotKey, slotLayout } from "./layout.ts";
import type {
  Link,
  OptimizerOptions,
  OptimizerState,
  ParamGroup,
  ParamList,
  ScalarContext,
} from "./link.ts";
import { chain } from "./link.ts";
import { loadParams, type ParamEntry, type ParamStateIn, readParams } from "./state.ts";
import { groupKernel, type GroupMember, normValue, updateKernel } from "./wgsl.ts";
import { GlobalNorm } from "./norm.ts";

export {
  chain,
  type Link,
  type LinkVars,
  type OptimizerOptions,
  type OptimizerState,
  type ParamGroup,
  type ParamList,
  type ScalarContext,
} from "./link.ts";

const isPair = (x: unknown): x is readonly [string, Tensor] => Array.isArray(x);
const isGroup = (x: unknown): x is ParamGroup =>
  typeof x === "object" && x !== null && !Array.isArray(x) && "params" in x;

/** Largest parameter (elements) that shares an update kernel with others. */
const GROUP_MAX = 65536;

/**
 * An optimizer built from a chain of links. Parameters without a gradient at `step()`
 * (frozen with `requiresGrad = false`, or unused this step) are skipped: no kernel, no
 * state allocated until their first update.
 */
export class Optimizer {
  /** The chain, in order. */
  readonly links: readonly Link[];
  #entries: ParamEntry[] = [];
  #groups: Record<string, number>[] = [];
  #baseLr: number;
  #hyperNames: Set<string>;
  #slotKeys: SlotKey[];
  #records: ScalarRecords;
  #norm: GlobalNorm;
  #normLink: number;
  #disposed = false;
  /** Generated update WGSL by window length (the source depends on nothing else). */
  #code = new Map<string, string>();

  /**
   * Builds the optimizer; throws on an empty chain, an unknown hyper-parameter name or a
   * parameter given twice.
   *
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
    const defaults = hyperDefaults(this.links);
    this.#hyperNames = new Set(Object.keys(defaults));
    this.#checkNames(options, "options");
    const base = { ...defaults, ...stripUndefined(options) };
    this.#baseLr = base.lr;
    const layout = slotLayout(this.links);
    this.#slotKeys = layout.slots;
    this.#normLink = layout.normLink;
    // Groups.
    const groups: ParamGroup[] = (params as readonly unknown[]).length > 0 &&
        (params as readonly unknown[]).every(isGroup)
      ? [...(params as readonly ParamGroup[])]
      : [{ params: params as ParamList }];
    const seen = new Set<Tensor>();
    let windowsSoFar = 0;
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
          partBase: windowsSoFar,
        });
        windowsSoFar += windows.length;
      });
    });
    const probe: ScalarContext = { t: 1, lr: base.lr, h: base };
    this.#records = new ScalarRecords(this.links, probe, this.#entries.length);
    this.#norm = new GlobalNorm(windowsSoFar);
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

  /** Group `k`'s live hyper-parameters; throws when there is no group `k`. */
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
   * Applies one update to every parameter that has a gradient: one fused kernel per group
   * of parameters (per window of a parameter split across bindings), plus, for a global-norm
   * link, one reduction per window and one finishing kernel. Records GPU work only; nothing
   * is read back.
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
        const h = this.#groups[e.group];
        this.#records.fill(e.index, { t: e.step, lr: h.lr, h });
        if (!e.slots) e.slots = this.#newSlots(e.p);
      }
      this.#records.upload();
      if (this.#normLink >= 0) {
        this.#norm.record(
          live,
          this.#records,
          normValue(this.links, this.#records.index, this.#normLink),
        );
      }
      const grouped = new Set<ParamEntry>();
      const norm = this.#normLink >= 0 ? [this.#norm.binding()] : [];
      // Parameters in one window go in groups, one dispatch a group, as many as the
      // adapter's storage bindings allow; a parameter split across windows goes alone.
      const perParam = 2 + this.#slotKeys.length;
      const cap = Math.floor(
        (g.device.limits.maxStorageBuffersPerShaderStage - 1 - norm.length) / perParam,
      );
      // Only small parameters: a large one's update ran 2–3× slower inside a group on
      // lavapipe (the dispatch it saves costs far less than that), so it goes alone.
      const single = live.filter((e) => e.windows.length === 1 && e.p.size <= GROUP_MAX);
      for (let k = 0; k < single.length && cap >= 2; k += cap) {
        const group = single.slice(k, k + cap);
        if (group.length === 1) break; // the rest goes one by one below
        const members = group.map((e) => this.#span(e, e.windows[0]));
        const code = this.#groupCode(
          members.map((m, j) => ({ ...m, rBase: (group[j].index * this.#records.stride) / 4 })),
        );
        const binds = [
          this.#records.all(),
          ...norm,
          ...members.flatMap((m) => m.binds),
        ];
        g.dispatch(code, binds, grid(members.reduce((p, m) => p + m.count, 0)));
        for (const e of group) grouped.add(e);
      }
      for (const e of live) {
        if (grouped.has(e)) continue;
        for (const w of e.windows) {
          const m = this.#span(e, w);
          if (this.#textureUpdate(e, m, norm)) continue;
          const binds = [this.#records.binding(e.index), m.binds[0], ...norm, ...m.binds.slice(1)];
          g.dispatch(this.#updateCode(m.count * m.vec, m.vec), binds, grid(m.count));
        }
      }
    });
  }

  /**
   * One window of a parameter as the update kernel binds it: gradient, weight, slots. Whole
   * vec4s when every buffer allows: a window rounded up to 16 bytes stays inside (tensor
   * buffers are pool buckets, multiples of 256 bytes, each owned by one tensor), and the
   * lanes past the end only update slack nobody reads.
   */
  #span(e: ParamEntry, w: { offset: number; size: number }) {
    const size = Math.ceil(w.size / 16) * 16;
    const bufs = [e.p.grad!.buffer, e.p.buffer, ...e.slots!.map((s) => s.buffer)];
    const vec: 1 | 4 = bufs.every((b) => w.offset + size <= b.size) ? 4 : 1;
    const span = vec === 4 ? size : w.size;
    return {
      vec,
      count: vec === 4 ? span / 16 : w.size / 4,
      binds: bufs.map((buffer) => ({ buffer, offset: w.offset, size: span })),
    };
  }

  /**
   * Records the update of one large window reading its gradient, weight and slots through
   * flat textures (`core/ops/texture_read.ts`) where the adapter's storage loads are slow;
   * false (nothing recorded) where that does not apply. Measured on lavapipe (AMD EPYC, 2
   * cores): Adam on the scene CNN's 20.6 M parameters took 825 ms a step through storage
   * reads, 354 ms plus 51 ms of copies through textures.
   */
  #textureUpdate(
    e: ParamEntry,
    m: { vec: 1 | 4; count: number; binds: BufferWindow[] },
    norm: BufferWindow[],
  ): boolean {
    const g = gpu(), reads = 2 + this.#slotKeys.length;
    if (!textureReads() || m.vec !== 4 || m.count < TEXTURE_MIN) return false;
    if (reads > g.device.limits.maxStorageTexturesPerShaderStage) return false;
    const layout = flatLayout(m.count);
    if (!layout) return false;
    const texs = m.binds.map((b) => flatTexture(b.buffer, b.offset, m.count)!);
    const key = `${m.count * 4}/tex`;
    let code = this.#code.get(key);
    if (code === undefined) {
      const idx = this.#records.index;
      code = updateKernel(
        m.count * 4,
        this.links,
        idx,
        this.#slotKeys,
        this.#normLink >= 0,
        4,
        layout,
        this.#records.vec4s,
      );
      this.#code.set(key, code);
    }
    const binds = [
      this.#records.binding(e.index),
      ...norm,
      ...texs.map((t) => g.view(t.tex)),
      ...m.binds.slice(1),
    ];
    g.dispatch(code, binds, grid(m.count));
    for (const t of texs) g.releaseTexture(t.tex);
    return true;
  }

  #groupCode(members: GroupMember[]): string {
    const key = JSON.stringify(members);
    let c = this.#code.get(key);
    if (c === undefined) {
      c = groupKernel(
        members,
        this.links,
        this.#records.index,
        this.#slotKeys,
        this.#normLink >= 0,
        this.#records.allVec4s,
      );
      this.#code.set(key, c);
    }
    return c;
  }

  #newSlots(p: Tensor): Tensor[] {
    return this.#slotKeys.map((s) =>
      (s.init === 0 ? zeros(p.shape) : full(p.shape, s.init)).keep()
    );
  }

  #updateCode(n: number, vec: 1 | 4): string {
    const key = `${n}/${vec}`;
    let c = this.#code.get(key);
    if (c === undefined) {
      const idx = this.#records.index;
      c = updateKernel(
        n,
        this.links,
        idx,
        this.#slotKeys,
        this.#normLink >= 0,
        vec,
        null,
        this.#records.vec4s,
      );
      this.#code.set(key, c);
    }
    return c;
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
    return {
      chain: this.chainName,
      lr: this.#baseLr,
      groups: this.#groups.map((g) => ({ ...g })),
      params: await readParams(this.#entries, this.#slotKeys),
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
    params: ParamStateIn[];
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
    noGrad(() => loadParams(this.#entries, this.#slotKeys, s.params, (p) => this.#newSlots(p)));
  }

  /** Releases the state tensors and the optimizer's buffers (not the parameters). */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    for (const e of this.#entries) for (const t of e.slots ?? []) t.dispose();
    this.#records.dispose();
    this.#norm.dispose();
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
