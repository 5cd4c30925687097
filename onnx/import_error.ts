/**
 * The import error type (`OnnxImportError`) and its one-line node message (`nodeError`):
 * a leaf module, so the importer context, the codecs and the checks can all use it.
 *
 * @module
 */
import type { OnnxModel, OnnxNode } from "./read.ts";

/** An import problem; the message is one line naming the file, node and operator. */
export class OnnxImportError extends Error {
  /** Builds the error from its one-line message. */
  constructor(message: string) {
    super(message.replace(/\s*\n\s*/g, " "));
    this.name = "OnnxImportError";
  }
}

/**
 * The error for a problem at one node: file, problem, operator, node (name or index) and
 * opset, on one line.
 */
export function nodeError(
  model: OnnxModel,
  file: string,
  opset: number,
  node: OnnxNode,
  problem: string,
): OnnxImportError {
  const nm = node.name ? `'${node.name}'` : `#${model.graph.nodes.indexOf(node)}`;
  return new OnnxImportError(
    `${file}: ${problem} (operator '${node.opType}', node ${nm}, opset ${opset})`,
  );
}
