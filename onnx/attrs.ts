/**
 * Typed access to a decoded node's attributes: `attrInt(node, "axis", 0)` and friends
 * return the value, or the default when the attribute is absent, and throw one clear line
 * naming the node when it has another type.
 *
 * @module
 */

import type { AttrValue, OnnxNode, OnnxTensor } from "./schema.ts";

function attrOf(node: OnnxNode, name: string, type: AttrValue["type"]): AttrValue | undefined {
  const a = node.attributes[name];
  if (a === undefined) return undefined;
  if (a.type !== type) {
    throw new Error(
      `node '${node.name}' (${node.opType}): attribute '${name}' is ${a.type}, expected ${type}`,
    );
  }
  return a;
}

/** An INT attribute, or `dflt` when absent; throws if it has another type. */
export function attrInt(node: OnnxNode, name: string, dflt: number): number;
/** An INT attribute, or undefined when absent; throws if it has another type. */
export function attrInt(node: OnnxNode, name: string): number | undefined;
export function attrInt(node: OnnxNode, name: string, dflt?: number): number | undefined {
  return (attrOf(node, name, "INT")?.value as number | undefined) ?? dflt;
}

/** A FLOAT attribute, or `dflt` when absent; throws if it has another type. */
export function attrFloat(node: OnnxNode, name: string, dflt: number): number;
/** A FLOAT attribute, or undefined when absent; throws if it has another type. */
export function attrFloat(node: OnnxNode, name: string): number | undefined;
export function attrFloat(node: OnnxNode, name: string, dflt?: number): number | undefined {
  return (attrOf(node, name, "FLOAT")?.value as number | undefined) ?? dflt;
}

/** A STRING attribute, or `dflt` when absent; throws if it has another type. */
export function attrString(node: OnnxNode, name: string, dflt: string): string;
/** A STRING attribute, or undefined when absent; throws if it has another type. */
export function attrString(node: OnnxNode, name: string): string | undefined;
export function attrString(node: OnnxNode, name: string, dflt?: string): string | undefined {
  return (attrOf(node, name, "STRING")?.value as string | undefined) ?? dflt;
}

/** An INTS attribute, or `dflt` when absent; throws if it has another type. */
export function attrInts(node: OnnxNode, name: string, dflt: number[]): number[];
/** An INTS attribute, or undefined when absent; throws if it has another type. */
export function attrInts(node: OnnxNode, name: string): number[] | undefined;
export function attrInts(node: OnnxNode, name: string, dflt?: number[]): number[] | undefined {
  return (attrOf(node, name, "INTS")?.value as number[] | undefined) ?? dflt;
}

/** A TENSOR attribute, or undefined when absent; throws if it has another type. */
export function attrTensor(node: OnnxNode, name: string): OnnxTensor | undefined {
  return attrOf(node, name, "TENSOR")?.value as OnnxTensor | undefined;
}
