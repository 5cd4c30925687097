/**
 * Matrix products: batched matmul with transposed operands, and the fused linear layer
 * y = x·Wᵀ + b (optionally followed by ReLU), each with its gradient. The kernels come
 * from `matmul_wgsl.ts` (real GPUs) and `matmul_texture.ts` (software adapters, operands
 * read through textures), tuned per adapter kind.
 */
import { record } from "../tape.ts";
import { type Binding, type BufferWindow, gpu } from "../gpu.ts";
import { empty, type Tensor } from "../tensor.ts";
import { fitsBinding, run } from "./kernel.ts";
import { matmulPlan, type MatmulSpec } from "./matmul_wgsl.ts";
import {
  DEFAULT_TEX_TUNING,
  matmulTexturePlan,
  type OperandTexture,
  type TexTuning,
  type TexturePlan,
  WIDE_TEX_TUNING,
} from "./matmul_texture.ts";
import { hostHasAvx512 } from "../gpu_env.ts";
import { flatMaxRows, flatTexture } from "./texture_read.ts";
import { elementwise } from "./raw.ts";
import { sum } from "./reduce.ts";
import { reshape, slice, stridedCopy } from "./shape.ts";

/** Options of `matmul`. */
export interface MatmulOptions {
  /** Use the transpose of A's last two axes (default false). */
  transA?: boolean;
  /** Use the transpose of B's last two axes (default false). */
  transB?: boolean;
}

function dims(
  t: Tensor,
  trans: boolean,
  isB = false,
): { batch: number[]; rows: number; cols: number } {
  if (t.shape.length < 1) throw new Error(`matmul: scalar operand`);
  // A 1-D A is a row [1, K]; a 1-D B is a column [K, 1] (NumPy's rule).
  const sh = t.shape.length === 1 ? (isB ? [t.shape[0], 1] : [1, t.shape[0]]) : t.shape;
  const r = sh[sh.length - 2], c = sh[sh.length - 1];
  return { batch: sh.slice(0, -2) as number[], rows: trans ? c : r, cols: trans ? r : c };
}

let forceStorage = false;

/**
 * Picks the software adapters' kernel: `"texture"` (the default) or `"storage"` (the
 * storage-buffer kernel, kept for side-by-side benchmarks). Returns the previous choice.
 */
export function setCpuMatmulKernel(kind: "texture" | "storage"): "texture" | "storage" {
  const old = forceStorage ? "storage" : "texture";
  forceStorage = kind === "storage";
  return old;
}

let flatOperands = true;

/**
 * Whether operands that gemmInto packs itself, whose lines are whole vec4s but not a
 * multiple of 64 floats, are copied flat into a texture (the default) or go through a
 * staging kernel (tests and side-by-side runs compare the two). The choice changes no result.
 * Returns the previous choice.
 */
export function setFlatOperands(on: boolean): boolean {
  const old = flatOperands;
  flatOperands = on;
  return old;
}

/** The texture matmul's tile: per host CPU (`"auto"`), or fixed (tests run both). */
let tile: "auto" | "8x8" | "16x8" = "auto";

/**
 * Fixes the software adapters' texture matmul tile, or (`"auto"`, the default) takes 16×8
 * where the host CPU has AVX-512 and 8×8 elsewhere (see `WIDE_TEX_TUNING`). The tile
 * changes no result. Returns the previous setting.
 */
export function setCpuMatmulTile(t: "auto" | "8x8" | "16x8"): "auto" | "8x8" | "16x8" {
  const old = tile;
  tile = t;
  return old;
}

/**
 * The tile of a product: 16×8 where the host CPU has AVX-512, and elsewhere for 9–16 rows
 * times a large B (a batch of 16 through a dense layer of a million weights or more: one
 * tile of rows instead of two, each reading all of B). On an AVX2 EPYC, alternating rounds,
 * the scene CNN's 4000 → 4000 layer forward + backward 185 → 167 ms (8 of 9 rounds in its
 * favour) and 4000 → 1000 48 → 42 ms (9 of 9); its 144 → 4000 layer was equal, 1000 → 6
 * slower (4.7 → 5.2 ms), and at 32 or more rows 16×8 was equal or slower.
 */
function baseTuning(s: Omit<MatmulSpec, "variant">): TexTuning {
  const skinny = s.M > 8 && s.M <= 16 && s.K * s.N >= 2 ** 20;
  const wide = tile === "16x8" || (tile === "auto" && (hostHasAvx512() || skinny));
  return wide ? WIDE_TEX_TUNING : DEFAULT_TEX_TUNING;
}

/** A tensor or binding as a buffer window. */
function windowOf(t: Tensor | Binding): BufferWindow {
  if ("shape" in t) return { buffer: t.buffer, offset: 0, size: Math.max(4, t.bytes) };
  return t instanceof GPUBuffer ? { buffer: t, offset: 0, size: t.size } : t;
}

/** Records the filling of a pooled texture with an operand; returns the texture. */
export function packOperand(src: BufferWindow, o: OperandTexture): GPUTexture {
  const g = gpu();
  if (o.steps[0]?.kind === "flat") {
    const f = flatTexture(src.buffer, src.offset, o.steps[0].texels), want = o.place.flat!;
    if (!f || f.rows !== want.rows || f.layers !== want.layers) {
      throw new Error(`packOperand: the flat texture's layout is not the plan's`);
    }
    return f.tex;
  }
  const tex = g.acquireTexture(o.size.width, o.size.height, o.size.layers);
  let staging: GPUBuffer | null = null;
  for (const st of o.steps) {
    if (st.kind === "flat") throw new Error("packOperand: a flat step after others");
    if (st.kind === "copy") {
      const [buf, off] = st.staged ? [staging!, 0] : [src.buffer, src.offset];
      g.copyToTexture(buf, off, st, tex);
    } else {
      staging = g.acquire(st.bytes);
      g.dispatch(st.code, [src, { buffer: staging, offset: 0, size: st.bytes }], st.workgroups);
    }
  }
  if (staging) g.release(staging); // commands already recorded still see it
  return tex;
}

/**
 * The texture plan for `spec` on this adapter (software adapters with the texture kernel),
 * or null when it reads storage buffers: the operands keep their stored layout, or with
 * `kMajor` both are packed K-major (what `gemmInto` does when it packs both itself). A
 * caller that fills an operand's texture itself (`plan.a.place`, `plan.b.place` of the
 * plain plan) passes it to `gemmInto`.
 */
export function texturePlanFor(
  spec: Omit<MatmulSpec, "variant">,
  kMajor = false,
): TexturePlan | null {
  const g = gpu();
  if (g.variant !== "cpu" || forceStorage) return null;
  // Plans are pure functions of the spec: generating the WGSL each call cost the host
  // more than recording the dispatch.
  const base = baseTuning(spec);
  // Operands gemmInto packs itself that would need a staging kernel are read flat.
  const flatRows = kMajor && flatOperands ? flatMaxRows() : undefined;
  const key = JSON.stringify(spec) + (kMajor ? "k" : "") + base.tm + "f" + flatRows;
  let plan = plans.get(key);
  if (plan === undefined) {
    const lim = { maxDim: g.maxTextureDim, maxLayers: g.maxTextureLayers, flatRows };
    plan = matmulTexturePlan({ ...spec, variant: "cpu" }, lim, undefined, kMajor, base);
    if (plans.size >= 1024) plans.clear();
    plans.set(key, plan);
  }
  return plan;
}

const plans = new Map<string, TexturePlan | null>();

/** Operand textures a caller already filled (laid out as `texturePlanFor` says). */
export interface Packed {
  a?: GPUTexture;
  b?: GPUTexture;
}

/**
 * Records C = op(A)·op(B) (+ bias) (+ ReLU) into `out` with the adapter's kernel: on
 * software adapters both operands are first packed into pooled textures (see
 * `matmul_texture.ts`), unless `packed` gives them (then `a` / `b` may be null); elsewhere,
 * or when an operand exceeds the texture limits, the storage-buffer kernel of
 * `matmul_wgsl.ts` reads them directly.
 */
export function gemmInto(
  a: Tensor | Binding | null,
  b: Tensor | Binding | null,
  out: Tensor | Binding,
  spec: Omit<MatmulSpec, "variant">,
  bias?: Tensor | Binding,
  packed: Packed = {},
): void {
  for (const [name, t] of [["A", a], ["B", b], ["C", out]] as const) {
    if (t && "shape" in t) fitsBinding(`matmul ${name}`, t.bytes);
  }
  const g = gpu();
  // Operands gemmInto packs itself go K-major (the kernel's fastest layout); a caller's
  // pre-filled texture keeps the stored layout `texturePlanFor(spec)` gave it.
  const plan = texturePlanFor(spec, !packed.a && !packed.b);
  if (plan) {
    const ta = packed.a ?? packOperand(windowOf(a!), plan.a);
    const tb = packed.b ?? packOperand(windowOf(b!), plan.b);
    const rest = [out, ...(bias ? [bias] : [])].map(windowOf);
    g.dispatch(plan.code, [g.view(ta), g.view(tb), ...rest], plan.workgroups);
    if (!packed.a) g.releaseTexture(ta);
    if (!packed.b) g.releaseTexture(tb);
    return;
  }
  if (!a || !b) throw new Error("gemmInto: a packed operand without a texture plan");
  const sp = matmulPlan({ ...spec, variant: g.variant });
  run(sp.code, bias ? [a, b, out, bias] : [a, b, out], sp.workgroups);
}

/** Rows per chunk of a [rows, k] weight so one chunk fits a binding (a multiple of 64). */
function chunkRows(k: number): number {
  const rows = Math.floor(gpu().maxBindingBytes / (k * 4) / 64) * 64;
  if (rows < 64) throw new Error(`linear: a row of ${k} inputs is too wide to split`);
  return rows;
}

/** A window of rows [r0, r0 + n) of a row-major tensor with `k` columns. */
function rowsOf(t: Tensor, r0: number, n: number, k: number): Binding {
  return { buffer: t.buffer, offset: r0 * k * 4, size: n * k * 4 };
}

const PLAIN = { batch: 1, aBatchStride: 0, bBatchStride: 0, bias: false, relu: false };

/** y = x·Wᵀ + b for a weight larger than one binding: one product per block of rows of W. */
function linearSplitForward(
  x2: Tensor,
  w: Tensor,
  bias: Tensor | null,
  relu: boolean,
  out: Tensor,
) {
  const [n, k] = x2.shape, m = w.shape[0], rows = chunkRows(k);
  for (let r0 = 0; r0 < m; r0 += rows) {
    const nc = Math.min(rows, m - r0);
    const tmp = empty([n, nc]);
    gemmInto(x2, rowsOf(w, r0, nc, k), tmp, {
      ...PLAIN,
      M: n,
      N: nc,
      K: k,
      transA: false,
      transB: true,
      bias: !!bias,
      relu,
    }, bias ? rowsOf(bias, r0, nc, 1) : undefined);
    stridedCopy(tmp, 0, [nc, 1], out, r0, [m, 1], [n, nc]);
    tmp.dispose();
  }
}

/** dX = g·W and dW = gᵀ·x for a weight larger than one binding, block by block. */
function linearSplitBackward(g2: Tensor, x2: Tensor, w: Tensor, needX: boolean, needW: boolean) {
  const [n, k] = x2.shape, m = w.shape[0], rows = chunkRows(k);
  const dx = needX ? empty([n, k]) : null, dw = needW ? empty([m, k]) : null;
  for (let r0 = 0; r0 < m; r0 += rows) {
    const nc = Math.min(rows, m - r0);
    const gc = slice(g2, [0, r0], [n, r0 + nc]);
    if (dx) {
      gemmInto(gc, rowsOf(w, r0, nc, k), dx, {
        ...PLAIN,
        M: n,
        N: k,
        K: nc,
        transA: false,
        transB: false,
        accumulate: r0 > 0,
      });
    }
    if (dw) {
      gemmInto(gc, x2, rowsOf(dw, r0, nc, k), {
        ...PLAIN,
        M: nc,
        N: k,
        K: n,
        transA: true,
        transB: false,
      });
    }
    gc.dispose();
  }
  return [dx, dw];
}

/**
 * Batched matrix product op(A)·op(B) over the last two axes. A 2-D operand is shared by
 * every batch of the other.
 *
 * @example
 * const c = matmul(a, b, { transB: true }); // a·bᵀ
 */
export function matmul(a: Tensor, b: Tensor, opts: MatmulOptions = {}): Tensor {
  const transA = !!opts.transA, transB = !!opts.transB;
  const da = dims(a, transA), db = dims(b, transB, true);
  if (da.cols !== db.rows) {
    throw new Error(`matmul: [${a.shape}]${transA ? "ᵀ" : ""} · [${b.shape}]${transB ? "ᵀ" : ""}`);
  }
  const M = da.rows, K = da.cols, N = db.cols;
  const ba = da.batch.reduce((p, d) => p * d, 1), bb = db.batch.reduce((p, d) => p * d, 1);
  if (ba !== bb && ba !== 1 && bb !== 1) {
    throw new Error(`matmul: batch [${da.batch}] and [${db.batch}] differ`);
  }
  const batchShape = da.batch.length >= db.batch.length ? da.batch : db.batch;
  const batch = Math.max(ba, bb);
  const outShape = [...batchShape, M, N];
  if (a.shape.length === 1) outShape.splice(outShape.length - 2, 1);
  if (b.shape.length === 1) outShape.splice(outShape.length - 1, 1);
  const out = empty(outShape);
  if (b.bytes > gpu().maxBindingBytes && transB && ba === 1 && a.shape.length <= 2) {
    linearSplitForward(reshape(a, [M, K]), b, null, false, out);
  } else {gemmInto(a, b, out, {
      batch,
      M,
      N,
      K,
      transA,
      transB,
      aBatchStride: ba === 1 ? 0 : M * K,
      bBatchStride: bb === 1 ? 0 : K * N,
      bias: false,
      relu: false,
    });}
  return record("matmul", out, [a, b], (g, [sa, sb]) => {
    const g3 = reshape(g, [...batchShape, M, N]);
    const a3 = sa.shape.length === 1 ? reshape(sa, [1, K]) : sa;
    const b3 = sb.shape.length === 1 ? reshape(sb, [K, 1]) : sb;
    let gA: Tensor | null = null, gB: Tensor | null = null;
    if (a.requiresGrad) {
      gA = transA
        ? (transB
          ? matmul(b3, g3, { transA: true, transB: true })
          : matmul(b3, g3, { transB: true }))
        : (transB ? matmul(g3, b3) : matmul(g3, b3, { transB: true }));
      if (ba === 1 && batch > 1) gA = sum(gA, [...Array(gA.shape.length - 2).keys()]);
      gA = reshape(gA, a.shape);
    }
    if (b.requiresGrad) {
      gB = transB
        ? (transA
          ? matmul(g3, a3, { transA: true, transB: true })
          : matmul(g3, a3, { transA: true }))
        : (transA ? matmul(a3, g3) : matmul(a3, g3, { transA: true }));
      if (bb === 1 && batch > 1) gB = sum(gB, [...Array(gB.shape.length - 2).keys()]);
      gB = reshape(gB, b.shape);
    }
    return [gA, gB];
  });
}

/**
 * The fully connected layer y = x·Wᵀ + b with W in PyTorch's [out, in] layout, optionally
 * fused with ReLU. x is [n, in] (or [..., in]); bias is [out] or absent. A weight larger
 * than one storage binding is processed in blocks of rows.
 */
export function linear(x: Tensor, w: Tensor, bias?: Tensor | null, relu = false): Tensor {
  const k = x.shape[x.shape.length - 1], n = x.size / k;
  const [m, k2] = w.shape;
  if (k !== k2) throw new Error(`linear: input [${x.shape}] does not match weight [${w.shape}]`);
  if (bias && bias.size !== m) throw new Error(`linear: bias [${bias.shape}] for ${m} outputs`);
  const out = empty([...x.shape.slice(0, -1), m]);
  const x2 = reshape(x, [n, k]);
  const split = w.bytes > gpu().maxBindingBytes;
  if (split) linearSplitForward(x2, w, bias ?? null, relu, out);
  else {
    gemmInto(x2, w, out, {
      ...PLAIN,
      M: n,
      N: m,
      K: k,
      transA: false,
      transB: true,
      relu,
      bias: !!bias,
    }, bias ?? undefined);
  }
  const inputs = bias ? [x, w, bias] : [x, w];
  return record(relu ? "linear_relu" : "linear", out, inputs, (g, saved) => {
    const [sx, sw] = saved;
    const sy = saved[saved.length - 1];
    const g2 = reshape(relu ? elementwise("select(0.0, g, y > 0.0)", { g, y: sy }, g.shape) : g, [
      n,
      m,
    ]);
    const xs = reshape(sx, [n, k]);
    let dx: Tensor | null = null, dw: Tensor | null = null;
    if (split) [dx, dw] = linearSplitBackward(g2, xs, sw, x.requiresGrad, w.requiresGrad);
    else {
      dx = x.requiresGrad ? matmul(g2, sw) : null;
      dw = w.requiresGrad ? matmul(g2, xs, { transA: true }) : null;
    }
    return [
      dx ? reshape(dx, x.shape) : null,
      dw,
      bias?.requiresGrad ? sum(g2, 0) : null,
    ];
  }, [out]);
}
