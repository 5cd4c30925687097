/**
 * Where the time of a step goes: per kernel family, the GPU time and the number of
 * dispatches, measured through `Gpu.setHook` (nothing is paid when no profile runs).
 *
 * Two methods:
 * - `"timestamp"` (when the device has `timestamp-query`): every dispatch gets a compute pass
 *   of its own that writes a timestamp at its start and end; the time between one pass's end
 *   and the next one's start is charged to the copies and clears recorded between them (or
 *   to "idle" when there are none, e.g. the host recording the next submit).
 * - `"replay"`: the step's dispatches are recorded, then each family is replayed alone,
 *   many times, between two `onSubmittedWorkDone` waits (the wait's own cost measured and
 *   taken off). Copies are not replayed; their share is what the families do not explain.
 *
 * A family is named from the call stack at record time: the function that made the kernel
 * (`im2col`, `col2im`, `softmaxOp` …), prefixed with the generic generator it went through
 * (`matmul`, `pack` for the texture packing of matmul operands, `elementwise`), and marked
 * `bwd` when recorded by `backward()`.
 *
 * @module
 */
import { type DispatchHook, gpu, type RecordedDispatch } from "./gpu.ts";
import { backwardOp } from "./tape.ts";

/** One kernel family's share of a step. */
export interface FamilyTime {
  /** The family's name (see the module documentation). */
  family: string;
  /** Dispatches (or copy commands) per step. */
  count: number;
  /** Milliseconds per step. */
  ms: number;
}

/** What `profileStep` measured. */
export interface StepProfile {
  /** How the families were timed. */
  method: "timestamp" | "replay";
  /** Wall milliseconds per step without profiling (median of the timed rounds). */
  stepMs: number;
  /** Milliseconds of JavaScript recording one step, started on an idle GPU (median). */
  hostMs: number;
  /** Dispatches per step. */
  dispatches: number;
  /** Copy and clear commands per step. */
  copies: number;
  /** Submits per step. */
  submits: number;
  /** Milliseconds per step of GPU work the families account for (dispatches only). */
  kernelMs: number;
  /** Per family, largest first (copies and idle time included with the timestamp method). */
  families: FamilyTime[];
}

/** Generic generators: a dispatch made through them is named after their caller. */
const GENERIC: Record<string, string> = {
  gemmInto: "matmul",
  packOperand: "pack",
  elementwise: "elementwise",
  gemm: "",
  windowPool: "pool",
  runPlanes: "",
  runReading: "",
  runChunk: "",
  run: "",
  noGrad: "",
  staged: "",
  tidy: "",
};
const SKIP_FILES = /\/core\/(gpu|profile)\.ts:|\/core\/ops\/kernel\.ts:/;

/** The family of the command being recorded now, from the call stack. */
export function familyOfStack(stack: string): string {
  const frames = stack.split("\n").slice(1).map((l) => {
    const m = /^\s*at (?:async )?(?:(\S+) \()?(.*?):\d+:\d+\)?$/.exec(l);
    return { fn: m?.[1]?.replace(/^(Object|Array|Module)\./, "") ?? "", file: m?.[2] ?? "" };
  });
  const kinds: string[] = [];
  let name = "";
  for (const f of frames) {
    if (SKIP_FILES.test(`${f.file}:`)) continue;
    if (f.fn in GENERIC) {
      if (GENERIC[f.fn] && !kinds.includes(GENERIC[f.fn])) kinds.push(GENERIC[f.fn]);
      continue;
    }
    if (!f.fn || f.fn === "<anonymous>") continue;
    // An op's gradient rule is the node's `backward` (named after the property).
    name = f.fn === "backward"
      ? (/\/core\/autograd\.ts$/.test(f.file) ? "autograd" : "rule")
      : f.fn;
    break;
  }
  const op = backwardOp();
  const kind = kinds.length ? `${kinds.reverse().join("/")} ` : "";
  const what = `${kind}${name || "?"}`;
  return op ? `bwd ${op}: ${what === "autograd" ? "rule" : what}` : what;
}

function family(): string {
  const old = Error.stackTraceLimit;
  Error.stackTraceLimit = 40;
  const s = new Error().stack ?? "";
  Error.stackTraceLimit = old;
  return familyOfStack(s);
}

interface Event {
  family: string;
  /** Index of the dispatch's begin query in `sets[set]`, or -1 for a copy. */
  q: number;
  set: number;
  submit: number;
}

/** The timestamp hook: one pass per dispatch, queries resolved before each submit. */
class TimestampHook implements DispatchHook {
  readonly events: Event[] = [];
  readonly reads: { buf: GPUBuffer; set: number; count: number }[] = [];
  #sets: GPUQuerySet[] = [];
  /** Sets written in the encoder being recorded, with the queries used in each. */
  #pending: { set: number; used: number }[] = [];
  #submit = 0;
  static readonly SIZE = 4096;

  constructor(readonly detail = false) {}

  dispatch(d: RecordedDispatch): GPUComputePassTimestampWrites {
    let cur = this.#pending[this.#pending.length - 1];
    if (!cur || cur.used + 2 > TimestampHook.SIZE) {
      const dev = gpu().device;
      this.#sets.push(dev.createQuerySet({ type: "timestamp", count: TimestampHook.SIZE }));
      this.#pending.push(cur = { set: this.#sets.length - 1, used: 0 });
    }
    const q = cur.used;
    cur.used += 2;
    const name = this.detail ? `${family()} [${d.workgroups}]` : family();
    this.events.push({ family: name, q, set: cur.set, submit: this.#submit });
    return {
      querySet: this.#sets[cur.set],
      beginningOfPassWriteIndex: q,
      endOfPassWriteIndex: q + 1,
    };
  }

  command(kind: string): void {
    this.events.push({ family: `${kind} ${family()}`, q: -1, set: -1, submit: this.#submit });
  }

  beforeSubmit(enc: GPUCommandEncoder): void {
    const dev = gpu().device;
    for (const { set, used } of this.#pending) {
      const bytes = used * 8;
      const res = dev.createBuffer({
        size: bytes,
        usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC,
      });
      const buf = dev.createBuffer({
        size: bytes,
        usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
      });
      enc.resolveQuerySet(this.#sets[set], 0, used, res, 0);
      enc.copyBufferToBuffer(res, 0, buf, 0, bytes);
      this.reads.push({ buf, set, count: used });
    }
    this.#pending = [];
    this.#submit++;
  }

  /** Every set's timestamps (nanoseconds), after the GPU finished. */
  async times(): Promise<Map<number, BigUint64Array>> {
    const out = new Map<number, BigUint64Array>();
    for (const r of this.reads) {
      await r.buf.mapAsync(GPUMapMode.READ);
      out.set(r.set, new BigUint64Array(r.buf.getMappedRange().slice(0)));
      r.buf.unmap();
      r.buf.destroy();
    }
    for (const s of this.#sets) s.destroy();
    return out;
  }
}

/** The replay hook: keeps every dispatch of the step. */
class RecordHook implements DispatchHook {
  readonly dispatches: (RecordedDispatch & { family: string })[] = [];
  copies = 0;
  dispatch(d: RecordedDispatch): undefined {
    this.dispatches.push({ ...d, family: family() });
    return undefined;
  }
  command(): void {
    this.copies++;
  }
  beforeSubmit(): void {}
}

function add(m: Map<string, FamilyTime>, family: string, ms: number, count = 1): void {
  const f = m.get(family) ?? { family, count: 0, ms: 0 };
  f.count += count;
  f.ms += ms;
  m.set(family, f);
}

async function timestampFamilies(step: () => void, steps: number, detail: boolean) {
  const g = gpu(), hook = new TimestampHook(detail);
  const s0 = g.stats();
  g.setHook(hook);
  try {
    for (let i = 0; i < steps; i++) step();
  } finally {
    g.setHook(null);
  }
  const s1 = g.stats();
  await g.sync();
  const times = await hook.times();
  const at = (e: Event, k: number) => Number(times.get(e.set)![e.q + k]) / 1e6;
  const fam = new Map<string, FamilyTime>();
  let kernelMs = 0, lastEnd: number | null = null, lastSubmit = -1, between: string[] = [];
  for (const e of hook.events) {
    if (e.q < 0) {
      between.push(e.family);
      continue;
    }
    const begin = at(e, 0), end = at(e, 1);
    add(fam, e.family, end - begin);
    kernelMs += end - begin;
    if (lastEnd !== null && e.submit === lastSubmit) {
      const gap = Math.max(0, begin - lastEnd);
      if (between.length) {
        for (const c of new Set(between)) {
          add(fam, c, gap / new Set(between).size, between.filter((b) => b === c).length);
        }
      } else add(fam, "idle between dispatches", gap, 0);
    } else {
      for (const c of between) add(fam, c, 0);
    }
    between = [];
    lastEnd = end;
    lastSubmit = e.submit;
  }
  for (const c of between) add(fam, c, 0);
  return { fam, kernelMs, s0, s1 };
}

async function replayFamilies(step: () => void, steps: number) {
  const g = gpu(), hook = new RecordHook();
  const s0 = g.stats();
  g.setHook(hook);
  try {
    for (let i = 0; i < steps; i++) step();
  } finally {
    g.setHook(null);
  }
  const s1 = g.stats();
  await g.sync();
  const byFamily = new Map<string, RecordedDispatch[]>();
  for (const d of hook.dispatches) {
    byFamily.set(d.family, [...(byFamily.get(d.family) ?? []), d]);
  }
  const submitAll = async (ds: RecordedDispatch[], reps: number) => {
    const t0 = performance.now();
    const enc = g.device.createCommandEncoder();
    const pass = enc.beginComputePass();
    for (let r = 0; r < reps; r++) {
      for (const d of ds) {
        pass.setPipeline(d.pipeline);
        pass.setBindGroup(0, d.bindGroup);
        pass.dispatchWorkgroups(...d.workgroups);
      }
    }
    pass.end();
    g.device.queue.submit([enc.finish()]);
    await g.device.queue.onSubmittedWorkDone();
    return performance.now() - t0;
  };
  const wait = Math.min(...(await Promise.all([0, 1, 2].map(() => submitAll([], 0)))));
  const fam = new Map<string, FamilyTime>();
  let kernelMs = 0;
  for (const [name, ds] of byFamily) {
    const once = Math.max(0.01, (await submitAll(ds, 1)) - wait);
    const reps = Math.max(1, Math.min(200, Math.round(150 / once)));
    const ms = Math.max(0, (await submitAll(ds, reps)) - wait) / reps;
    add(fam, name, ms, ds.length);
    kernelMs += ms;
  }
  add(fam, "copy and clear commands (not replayed)", 0, hook.copies);
  g.check();
  return { fam, kernelMs, s0, s1 };
}

/**
 * Profiles `step` (a function that records one whole step, e.g. a training step in
 * `tidy`): first `rounds` × `steps` unprofiled steps for the step time and the host's
 * recording time, then `steps` profiled ones. Warm `step` up (compiles) before calling this.
 */
export async function profileStep(
  step: () => void,
  opts: {
    method?: "auto" | "timestamp" | "replay";
    steps?: number;
    rounds?: number;
    /** Split families by workgroup grid (timestamp method): one line per kernel shape. */
    detail?: boolean;
  } = {},
): Promise<StepProfile> {
  const g = gpu(), steps = opts.steps ?? 3, rounds = opts.rounds ?? 3;
  const method = opts.method === "replay" || (opts.method !== "timestamp" && !g.timestamps)
    ? "replay"
    : "timestamp";
  if (method === "timestamp" && !g.timestamps) {
    throw new Error("profile: this device has no timestamp-query; use the replay method");
  }
  // One step first: a cold step compiles its kernels and fills caches (a frozen layer's
  // transformed weights), which would count as wall time and shrink every share.
  step();
  await g.sync();
  const walls: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const t0 = performance.now();
    for (let i = 0; i < steps; i++) step();
    await g.sync();
    walls.push((performance.now() - t0) / steps);
  }
  // The host's recording time, each step starting on an idle GPU (work the step submits
  // part-way, e.g. at an upload, still competes for the CPU on a software adapter).
  const hosts: number[] = [];
  for (let i = 0; i < steps; i++) {
    await g.sync();
    const h0 = performance.now();
    step();
    hosts.push(performance.now() - h0);
  }
  await g.sync();
  const mid = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
  const r = method === "timestamp"
    ? await timestampFamilies(step, steps, !!opts.detail)
    : await replayFamilies(step, steps);
  const per = (v: number) => v / steps;
  const families = [...r.fam.values()]
    .map((f) => ({ family: f.family, count: per(f.count), ms: per(f.ms) }))
    .sort((a, b) => b.ms - a.ms);
  return {
    method,
    stepMs: mid(walls),
    hostMs: mid(hosts),
    dispatches: per(r.s1.dispatches - r.s0.dispatches),
    copies: families.filter((f) => /^(copy|clear)/.test(f.family))
      .reduce((p, f) => p + f.count, 0),
    submits: per(r.s1.submits - r.s0.submits),
    kernelMs: per(r.kernelMs),
    families,
  };
}

/** The profile as printable lines: a header, then one line per family (largest first). */
export function formatProfile(p: StepProfile, limit = 30): string[] {
  const lines = [
    `  profile (${p.method}): step ${p.stepMs.toFixed(1)} ms wall, host recording ` +
    `${p.hostMs.toFixed(1)} ms, ${p.dispatches.toFixed(0)} dispatches, ` +
    `${p.copies.toFixed(0)} copies/clears, ${+p.submits.toFixed(2)} submits per step; ` +
    `kernels ${p.kernelMs.toFixed(1)} ms`,
    `    ${"ms/step".padStart(8)} ${"share".padStart(6)} ${"count".padStart(6)}  family`,
  ];
  for (const f of p.families.slice(0, limit)) {
    lines.push(
      `    ${f.ms.toFixed(2).padStart(8)} ${(100 * f.ms / p.stepMs).toFixed(1).padStart(5)}% ` +
        `${f.count.toFixed(0).padStart(6)}  ${f.family}`,
    );
  }
  if (p.families.length > limit) lines.push(`    … ${p.families.length - limit} more families`);
  return lines;
}
