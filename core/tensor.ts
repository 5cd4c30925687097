/**
 * Tensor: a float32 array on the GPU with a shape, an optional gradient and the autograd
 * node that made it. Ownership is explicit: a tensor holds one reference to its storage,
 * `dispose()` drops it, and `tidy()` disposes every tensor made inside it that is not
 * returned or kept. A tensor that is garbage-collected undisposed gives its buffer back too.
 */
import { gpu, stepDone } from "./gpu.ts";

/** A GPU buffer shared by a tensor and its aliases (reshape, detach, saved copies). */
class Storage {
  refs = 1;
  constructor(readonly buffer: GPUBuffer, readonly bytes: number) {}
  release(): void {
    if (--this.refs === 0) gpu().release(this.buffer);
  }
}

/** What autograd records for one op: its inputs and how to turn the output's grad into theirs. */
export interface GradNode {
  /** Recording order; `backward()` visits nodes from the latest to the earliest. */
  readonly seq: number;
  /** The op's inputs, one gradient slot each. */
  readonly inputs: Tensor[];
  /** Kept aliases of the inputs (and extras) for `backward`; emptied when the graph is released. */
  readonly saved: Tensor[];
  /** Maps the output's gradient and `saved` to one gradient (or null) per input, shaped like it. */
  readonly backward: (g: Tensor, saved: Tensor[]) => (Tensor | null)[];
  /** The op's name, quoted in errors. */
  readonly name: string;
  /** Frees what the op saved outside tensors (e.g. pooled textures); run once on release. */
  release?: () => void;
}

const finalizer = new FinalizationRegistry<Storage>((s) => s.release());
let nextId = 1;

/** Element count of a shape. */
export function sizeOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** A float32 tensor living on the GPU. */
export class Tensor {
  /** Dimensions, outermost first (frozen; [] for a scalar). */
  readonly shape: readonly number[];
  /** Element count (the product of `shape`). */
  readonly size: number;
  /** Identity shared by aliases of the same value (used to route gradients). */
  readonly id: number;
  /** Whether gradients flow to this tensor. Set it on leaves (parameters, inputs). */
  requiresGrad = false;
  /** The accumulated gradient of a leaf after `backward()`. */
  grad: Tensor | null = null;
  /** The op that produced this tensor, when autograd recorded one. */
  node: GradNode | null = null;
  /** The leaf this alias stands for (itself for a plain tensor). */
  base: Tensor;
  /** Optional name (parameters use PyTorch-style names). */
  name?: string;
  #storage: Storage | null;
  #kept = false;

  /** Wraps storage; use `empty`, `fromArray`, `zeros` or an op instead. */
  constructor(shape: readonly number[], storage: Storage, id?: number, base?: Tensor) {
    this.shape = Object.freeze([...shape]);
    this.size = sizeOf(shape);
    this.#storage = storage;
    this.id = id ?? nextId++;
    this.base = base ?? this;
    finalizer.register(this, storage, this);
    track(this);
  }

  /** The GPU buffer (throws on a disposed tensor). */
  get buffer(): GPUBuffer {
    if (!this.#storage) throw new Error(`tensor ${this.describe()} used after dispose()`);
    return this.#storage.buffer;
  }

  /** Byte length of the data (the buffer may be larger). */
  get bytes(): number {
    return this.size * 4;
  }

  /** Whether `dispose()` has been called. */
  get disposed(): boolean {
    return this.#storage === null;
  }

  /** Whether `keep()` exempted this tensor from its scope. */
  get kept(): boolean {
    return this.#kept;
  }

  /** Drops this tensor's reference to its storage (idempotent). */
  dispose(): void {
    if (!this.#storage) return;
    finalizer.unregister(this);
    this.#storage.release();
    this.#storage = null;
  }

  /** Exempts this tensor from disposal by the enclosing `tidy()`. */
  keep(): this {
    this.#kept = true;
    return this;
  }

  /** A new tensor object sharing this one's storage, with a new shape of equal size. */
  alias(shape: readonly number[] = this.shape, sameValue = true): Tensor {
    if (sizeOf(shape) !== this.size) {
      throw new Error(`cannot view ${this.describe()} as [${shape}]`);
    }
    const s = this.#storage;
    if (!s) throw new Error(`tensor ${this.describe()} used after dispose()`);
    s.refs++;
    const t = new Tensor(
      shape,
      s,
      sameValue ? this.id : undefined,
      sameValue ? this.base : undefined,
    );
    if (sameValue) {
      t.node = this.node;
      t.requiresGrad = this.requiresGrad;
    }
    return t;
  }

  /** A tensor sharing the data but cut off from autograd. */
  detach(): Tensor {
    return this.alias(this.shape, false);
  }

  /** Copies the data back to the CPU (one GPU round trip). */
  async data(): Promise<Float32Array> {
    const buf = await gpu().read(this.buffer, this.bytes);
    return new Float32Array(buf);
  }

  /** The single value of a one-element tensor. */
  async item(): Promise<number> {
    if (this.size !== 1) throw new Error(`item() needs one element, got ${this.describe()}`);
    return (await this.data())[0];
  }

  /** Shape and name for messages. */
  describe(): string {
    return `${this.name ? this.name + " " : ""}[${this.shape.join(",")}]`;
  }
}

/** An uninitialised tensor of the given shape. */
export function empty(shape: readonly number[]): Tensor {
  const bytes = sizeOf(shape) * 4;
  return new Tensor(shape, new Storage(gpu().acquire(bytes), bytes));
}

/** A tensor holding a copy of `data` (float32; numbers are converted). */
export function fromArray(data: ArrayLike<number>, shape?: readonly number[]): Tensor {
  const sh = shape ?? [data.length];
  if (sizeOf(sh) !== data.length) {
    throw new Error(`${data.length} values do not fill shape [${sh}]`);
  }
  const t = empty(sh);
  const f = data instanceof Float32Array ? data : Float32Array.from(data);
  if (f.length > 0) gpu().upload(t.buffer, f);
  return t;
}

/** A tensor of zeros. */
export function zeros(shape: readonly number[]): Tensor {
  const t = empty(shape);
  gpu().clear(t.buffer, 0, Math.ceil(t.bytes / 4) * 4);
  return t;
}

// ---- scopes -------------------------------------------------------------------------

interface Scope {
  tensors: Tensor[];
  nodes: GradNode[];
}
const scopes: Scope[] = [];

function track(t: Tensor): void {
  scopes[scopes.length - 1]?.tensors.push(t);
}

/** Registers an autograd node with the current scope (called by autograd). */
export function trackNode(n: GradNode): void {
  scopes[scopes.length - 1]?.nodes.push(n);
}

function collect(v: unknown, out: Set<Tensor>): void {
  if (v instanceof Tensor) out.add(v);
  else if (Array.isArray(v)) { for (const x of v) collect(x, out); }
  else if (v && typeof v === "object" && !(ArrayBuffer.isView(v))) {
    for (const x of Object.values(v)) collect(x, out);
  }
}

/** Releases the tensors an autograd node saved for its backward pass. */
export function releaseNode(n: GradNode): void {
  for (const s of n.saved) s.dispose();
  n.saved.length = 0;
  const r = n.release;
  n.release = undefined;
  r?.();
}

/**
 * Runs `fn` and disposes every tensor it created that is not in its result or kept,
 * and every autograd node no surviving tensor can reach. `fn` must be synchronous: the
 * scope ends when `fn` returns, so for an async `fn` it would end at the first `await`,
 * disposing the tensors made before it (even ones the promise later resolves to) and not
 * tracking those made after it. Read results back (`await t.data()`) outside the scope.
 *
 * @example
 * const loss = tidy(() => mean(square(sub(predict(x), y))));
 */
export function tidy<T>(fn: () => T): T {
  const scope: Scope = { tensors: [], nodes: [] };
  scopes.push(scope);
  let result: T;
  try {
    result = fn();
  } catch (e) {
    scopes.pop();
    end(scope, undefined);
    throw e;
  }
  scopes.pop();
  end(scope, result);
  // An outermost scope is usually one step (of training, of evaluation): a real GPU gets its
  // work now, to run while the host records the next one (core/gpu_submit.ts).
  if (scopes.length === 0) stepDone();
  return result;
}

function end(scope: Scope, result: unknown): void {
  const keep = new Set<Tensor>();
  collect(result, keep);
  const parent = scopes[scopes.length - 1];
  // Nodes reachable from surviving tensors stay alive (moved to the parent scope).
  const live = new Set<GradNode>();
  const stack: GradNode[] = [];
  // Tensors a node saved for backward are kept, but they belong to that node: they must
  // not make the graph reachable (else a top-level tidy never releases it).
  const saved = new Set<Tensor>();
  for (const n of scope.nodes) for (const s of n.saved) saved.add(s);
  for (const t of scope.tensors) {
    if ((keep.has(t) || (t.kept && !saved.has(t))) && t.node) stack.push(t.node);
  }
  for (const t of keep) if (t.node) stack.push(t.node);
  while (stack.length) {
    const n = stack.pop()!;
    if (live.has(n)) continue;
    live.add(n);
    for (const i of n.inputs) if (i.node) stack.push(i.node);
  }
  for (const n of scope.nodes) {
    if (live.has(n)) parent?.nodes.push(n);
    else releaseNode(n);
  }
  for (const t of scope.tensors) {
    if (t.kept) continue;
    if (keep.has(t)) parent?.tensors.push(t);
    else t.dispose();
  }
}
