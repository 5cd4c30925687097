/**
 * The layer codec registry: one entry per layer family says how its ONNX operators become
 * engine modules (`import`), how its modules are written back (`matches` + `export`) and,
 * optionally, how a module runs fused with the next one (`fuse`, added to the chain
 * runner's rules in core/nn/sequential.ts). ONNX import dispatches each node by op type
 * here, `checkImportable` accepts exactly the registered op types, and export asks each
 * module's codec for its nodes — so a new layer (a pooling plugin in its own file, say)
 * goes through ONNX by registering one codec, with nothing else edited.
 *
 * The built-in codecs live in onnx/codecs/ (one file per family) and in each pooling
 * plugin's file; onnx/codecs/index.ts loads them all.
 *
 * @example
 * registerCodec({
 *   name: "globallppool",
 *   opTypes: ["GlobalLpPool"],
 *   import: (node, ctx) =>
 *     ctx.addStep(node, new GlobalLpPool2d(attrInt(node, "p", 2)), [ctx.tensorIn(node, 0)]),
 *   matches: (m) => m instanceof GlobalLpPool2d,
 *   export: (m, ctx) => ctx.node("GlobalLpPool", [ctx.input], { p: int(m.p) }),
 * });
 *
 * @module
 */
import type { Module } from "../core/nn/module.ts";
import { type FusionRule, registerFusion } from "../core/nn/sequential.ts";
import type { ExportContext } from "./emit.ts";
import type { Importer } from "./import_context.ts";
import type { OnnxNode } from "./read.ts";

export type { Importer } from "./import_context.ts";
export type { ExportContext } from "./emit.ts";

/** A layer family's ONNX import, export and fusion rule. */
export interface Codec<M extends Module = Module> {
  /** A name for messages and `unregisterCodec`. */
  readonly name: string;
  /** The ONNX operators (default domain) that `import` handles. */
  readonly opTypes?: readonly string[];
  /**
   * Builds the step(s) or CPU value for `node` (`ctx.addStep`, `ctx.cpuOut`, …), or fails
   * with the one-line message (`ctx.fail(node, "…")`).
   */
  import?(node: OnnxNode, ctx: Importer): void;
  /** Whether `export` writes module `m` (later registrations are asked first). */
  matches?(m: Module): boolean;
  /** Adds the nodes of module `m`; returns the name of its output value. */
  export?(m: M, ctx: ExportContext): string;
  /** A fusion rule for chains (e.g. this layer followed by ReLU as one kernel). */
  fuse?: FusionRule;
}

interface Entry {
  codec: Codec;
  removeFusion?: () => void;
}

const entries: Entry[] = [];
const byOp = new Map<string, Codec>();

/**
 * Registers a codec. An op type another codec already handles is an error naming both.
 *
 * @example
 * registerCodec(myPoolCodec);
 */
export function registerCodec<M extends Module>(codec: Codec<M>): Codec<M> {
  const c = codec as unknown as Codec;
  if (entries.some((e) => e.codec.name === c.name)) {
    throw new Error(`a codec named "${c.name}" is already registered`);
  }
  for (const op of c.opTypes ?? []) {
    const other = byOp.get(op);
    if (other) throw new Error(`codec "${c.name}": ${op} is already imported by "${other.name}"`);
  }
  for (const op of c.opTypes ?? []) byOp.set(op, c);
  entries.push({ codec: c, removeFusion: c.fuse ? registerFusion(c.fuse) : undefined });
  return codec;
}

/** Removes the codec called `name` (for tests); returns whether there was one. */
export function unregisterCodec(name: string): boolean {
  const k = entries.findIndex((e) => e.codec.name === name);
  if (k < 0) return false;
  const [{ codec, removeFusion }] = entries.splice(k, 1);
  for (const op of codec.opTypes ?? []) if (byOp.get(op) === codec) byOp.delete(op);
  removeFusion?.();
  return true;
}

/** The codec that imports `node` (default ONNX domain only), if any. */
export function codecForNode(node: OnnxNode): Codec | undefined {
  if (node.domain && node.domain !== "ai.onnx") return undefined;
  const c = byOp.get(node.opType);
  return c?.import ? c : undefined;
}

/** The codec that exports module `m` (the latest registered that matches), if any. */
export function codecForModule(m: Module): Codec | undefined {
  for (let k = entries.length - 1; k >= 0; k--) {
    const c = entries[k].codec;
    if (c.export && c.matches?.(m)) return c;
  }
  return undefined;
}

/** The op types import accepts now, sorted (the registry's keys). */
export function supportedOps(): string[] {
  return [...byOp.keys()].filter((op) => byOp.get(op)!.import).sort();
}
