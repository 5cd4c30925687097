/**
 * Reading a buffer through a texture, for memory-bound kernels on adapters whose storage
 * loads are slow (`gpu().textureReads`, measured by `core/gpu_reads.ts`): the buffer's
 * vec4s are copied, in order, into a "flat" `rgba32float` texture of `FLAT_WIDTH` texels a
 * row (rows of 16 KiB, so whole rows go in one `copyBufferToTexture`), and the kernel reads
 * vec4 f with `textureLoad` (an f32 e as component e % 4 of texel e / 4). The values are the
 * same bits either way; only the speed differs.
 *
 * @module
 */
import { FLAT_WIDTH } from "../gpu_reads.ts";
import { type Bindable, gpu } from "../gpu.ts";
import type { Tensor } from "../tensor.ts";
import { run } from "./kernel.ts";

let forced: boolean | null = null;

/** Rows a layer at most (tests lower it to exercise several layers); null: the device's. */
let maxRows: number | null = null;

/** Sets that cap (tests). Returns the old one. */
export function setFlatMaxRows(rows: number | null): number | null {
  const old = maxRows;
  maxRows = rows;
  return old;
}

/** Rows a layer of a flat texture now: the device's, or the cap `setFlatMaxRows` set. */
export function flatMaxRows(): number {
  return Math.min(maxRows ?? Infinity, gpu().maxTextureDim);
}

/** Whether memory-bound kernels read through textures now (`setTextureReads` overrides). */
export function textureReads(): boolean {
  return forced ?? gpu().textureReads;
}

/**
 * Forces texture reads on or off (`null`: back to the measured choice); tests run both
 * paths. Returns the old setting.
 */
export function setTextureReads(on: boolean | null): boolean | null {
  const old = forced;
  forced = on;
  return old;
}

/**
 * Flat copies made in the submission being recorded, by buffer and range, with the buffer's
 * version (`Gpu.version`) and the submission when copied: a later `flatTexture` of the same
 * range of an unchanged buffer in the same submission returns the same texture instead of
 * copying again (an earlier submission's texture went back to the pool at its submit). A training step reads
 * a layer's weights in the forward, the backward and the update, and batch norm's input in
 * its forward and backward: the scene CNN's step copied 794 MB, 256 MB of it again. The
 * textures are pinned (`Gpu.pinUntilSubmit`) and go back to the pool at the submit; at most
 * `KEEP_BYTES` are kept at once, past that copies are not kept.
 */
const kept = new WeakMap<
  GPUBuffer,
  Map<string, { flat: FlatTexture; version: number; submit: number }>
>();

/** Bytes of flat textures kept within one submission at most. */
const KEEP_BYTES = 1024 * 2 ** 20;

/** A flat texture holding `texels` vec4s of a buffer, and how a kernel addresses it. */
export interface FlatTexture {
  tex: GPUTexture;
  /** Rows a layer. */
  rows: number;
  /** Layers. */
  layers: number;
}

/** The layout of `texels` vec4s: rows a layer (as few layers as the device allows). */
function flatRows(texels: number): { rows: number; layers: number } | null {
  const g = gpu(), lines = Math.ceil(texels / FLAT_WIDTH);
  const rows = Math.min(lines, maxRows ?? g.maxTextureDim), layers = Math.ceil(lines / rows);
  return layers > g.maxTextureLayers ? null : { rows, layers };
}

/**
 * Records the copies that fill a pooled flat texture with the `texels` vec4s of `buffer`
 * from byte `offset` (a multiple of 16); null when they do not fit the device's textures.
 * Release the texture with `gpu().releaseTexture` once the reading kernel is recorded.
 * Within one submission the same range of an unchanged buffer gives the same texture
 * (copied once; see `kept`).
 */
export function flatTexture(buffer: GPUBuffer, offset: number, texels: number): FlatTexture | null {
  const g = gpu(), f = flatRows(texels);
  if (!f) return null;
  // The same bytes copied earlier in this submission, unchanged since: the same texture.
  // (A texture kept in an earlier submission went back to the pool at its submit.)
  const key = `${offset}:${texels}:${f.rows}`, version = g.version(buffer);
  const submit = g.submitCount, old = kept.get(buffer)?.get(key);
  if (old && old.version === version && old.submit === submit) return old.flat;
  const tex = g.acquireTexture(FLAT_WIDTH, f.rows, f.layers);
  if (g.pinUntilSubmit(tex, tex.width * tex.height * tex.depthOrArrayLayers * 16, KEEP_BYTES)) {
    let m = kept.get(buffer);
    if (!m) kept.set(buffer, m = new Map());
    m.set(key, { flat: { tex, ...f }, version, submit });
  }
  const perLayer = FLAT_WIDTH * f.rows, bytesPerRow = FLAT_WIDTH * 16;
  const full = Math.floor(texels / perLayer);
  if (full > 0) {
    g.copyToTexture(buffer, offset, {
      offset: 0,
      bytesPerRow,
      width: FLAT_WIDTH,
      rows: f.rows,
      y: 0,
      layer: 0,
      layers: full,
    }, tex);
  }
  const rest = texels - full * perLayer, lines = Math.floor(rest / FLAT_WIDTH);
  const at = offset + full * perLayer * 16;
  if (lines > 0) {
    g.copyToTexture(buffer, at, {
      offset: 0,
      bytesPerRow,
      width: FLAT_WIDTH,
      rows: lines,
      y: 0,
      layer: full,
    }, tex);
  }
  const tail = rest - lines * FLAT_WIDTH;
  if (tail > 0) {
    g.copyToTexture(buffer, at + lines * bytesPerRow, {
      offset: 0,
      bytesPerRow,
      width: tail,
      rows: 1,
      y: lines,
      layer: full,
    }, tex);
  }
  return { tex, rows: f.rows, layers: f.layers };
}

/** WGSL declaring a flat texture at `binding` (read-only storage texture). */
export function flatDecl(binding: number, name: string): string {
  return `@group(0) @binding(${binding}) var ${name}: texture_storage_2d_array<rgba32float, read>;`;
}

/** WGSL reading vec4 `idx` (a u32 expression) of the flat texture `name` laid out as `t`. */
export function flatLoad(name: string, idx: string, t: Omit<FlatTexture, "tex">): string {
  const x = `(${idx}) % ${FLAT_WIDTH}u`, line = `(${idx}) / ${FLAT_WIDTH}u`;
  if (t.layers === 1) return `textureLoad(${name}, vec2<u32>(${x}, ${line}), 0)`;
  return `textureLoad(${name}, vec2<u32>(${x}, ${line} % ${t.rows}u), ${line} / ${t.rows}u)`;
}

/** The layout `flatTexture` gives `texels` vec4s (null: they do not fit), for kernel keys. */
export function flatLayout(texels: number): { rows: number; layers: number } | null {
  return flatRows(texels);
}

/** Vec4s a tensor needs before a kernel reads it through a texture (the copy is a command). */
export const TEXTURE_MIN = 16384;

/** Options of `runReading`. */
export interface ReadingOptions {
  /**
   * Also read `array<f32>` bindings named in `reads` through flat textures (f32 e is
   * component e % 4 of texel e / 4); false (the default): only `array<vec4<f32>>` ones.
   */
  scalars?: boolean;
  /** Flat copies shared with the op's other kernels (see `SharedReads`). */
  shared?: SharedReads;
}

/**
 * Flat copies shared by the kernels of one op that read the same unchanged inputs (batch
 * normalisation's statistics and normalisation both read x; its backward's sums and dx read
 * g, x and y): each is copied once, on first use. `release()` once the last kernel is
 * recorded.
 */
export class SharedReads {
  #copies = new Map<GPUBuffer, Map<string, FlatTexture | null>>();

  /** The flat texture of `texels` vec4s of `buffer` from byte `offset` (null: too large). */
  get(buffer: GPUBuffer, offset: number, texels: number): FlatTexture | null {
    let m = this.#copies.get(buffer);
    if (!m) this.#copies.set(buffer, m = new Map());
    const key = `${offset}:${texels}`;
    if (!m.has(key)) m.set(key, flatTexture(buffer, offset, texels));
    return m.get(key)!;
  }

  /** Returns the textures to the pool (the kernels already recorded still see them). */
  release(): void {
    for (const m of this.#copies.values()) {
      for (const f of m.values()) if (f) gpu().releaseTexture(f.tex);
    }
    this.#copies.clear();
  }
}

/**
 * The buffer, byte offset and vec4s of a binding a flat texture can hold: a tensor (from
 * its start), or a window whose offset and size are multiples of 16 bytes; else null.
 */
function source(
  b: Tensor | Bindable,
): { buffer: GPUBuffer; offset: number; texels: number } | null {
  if (b instanceof GPUTextureView || b instanceof GPUBuffer) return null;
  if ("shape" in b) {
    return b.size % 4 === 0 ? { buffer: b.buffer, offset: 0, texels: b.size / 4 } : null;
  }
  if (b.offset % 16 !== 0 || b.size % 16 !== 0) return null;
  return { buffer: b.buffer, offset: b.offset, texels: b.size / 16 };
}

/**
 * `run(code, bindings, workgroups)`, with each binding named in `reads` (reads[k] for
 * binding k, null for the others: a read-only `array<vec4<f32>>` of the kernel, or with
 * `opts.scalars` also `array<f32>`, indexed as `name[expr]` with no brackets inside
 * `expr`) read through a flat texture when `textureReads()` holds and the binding is at
 * least `TEXTURE_MIN` whole vec4s — a tensor whose size is a multiple of 4, or a window
 * whose byte offset and size are multiples of 16: its declaration becomes a texture and a
 * function `name_at` (of a vec4 or an f32 index), and its loads calls of it. Other bindings,
 * and every binding elsewhere, are left as they are. With `opts.shared` the copies come from
 * (and stay with) that set.
 */
export function runReading(
  code: string,
  bindings: (Tensor | Bindable)[],
  reads: readonly (string | null)[],
  workgroups: [number, number?, number?],
  opts: ReadingOptions = {},
): void {
  const g = gpu(), texs: GPUTexture[] = [];
  const binds = [...bindings];
  let src = code;
  if (textureReads()) {
    let budget = g.device.limits.maxStorageTexturesPerShaderStage - countTextures(code);
    for (const [k, name] of reads.entries()) {
      if (name === null || bindings[k] === undefined || budget <= 0) continue;
      const s = source(bindings[k]);
      if (!s || s.texels < TEXTURE_MIN) continue;
      const head = `@group\\(0\\) @binding\\(${k}\\) var<storage, read> ${name}: array<`;
      const vec4 = new RegExp(`${head}vec4<f32>>;`), f32 = new RegExp(`${head}f32>;`);
      const scalar = !vec4.test(src);
      if (scalar && !(opts.scalars && f32.test(src))) continue;
      const f = opts.shared
        ? opts.shared.get(s.buffer, s.offset, s.texels)
        : flatTexture(s.buffer, s.offset, s.texels);
      if (!f) continue;
      const t = `${name}_t`;
      const fn = scalar
        ? `fn ${name}_at(e: u32) -> f32 { return ${flatLoad(t, "e / 4u", f)}[e % 4u]; }`
        : `fn ${name}_at(f: u32) -> vec4<f32> { return ${flatLoad(t, "f", f)}; }`;
      src = src.replace(scalar ? f32 : vec4, `${flatDecl(k, t)}\n${fn}`)
        .replace(new RegExp(`\\b${name}\\[([^\\[\\]]+)\\]`, "g"), `${name}_at($1)`);
      binds[k] = g.view(f.tex);
      if (!opts.shared) texs.push(f.tex);
      budget--;
    }
  }
  run(src, binds, workgroups);
  for (const t of texs) g.releaseTexture(t);
}

/** Storage textures a kernel already declares. */
function countTextures(code: string): number {
  return (code.match(/texture_storage_/g) ?? []).length;
}
