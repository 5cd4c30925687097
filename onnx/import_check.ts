/**
 * The GPU-free side of ONNX import: the operator list (`SUPPORTED_OPS`), the error type
 * (`OnnxImportError`) with its one-line node message, and `checkImportable`, which refuses
 * a model before any GPU work.
 *
 * @module
 */
import { type OnnxModel, type OnnxNode, opsetVersion } from "./read.ts";

/** An import problem; the message is one line naming the file, node and operator. */
export class OnnxImportError extends Error {
  /** Builds the error from its one-line message. */
  constructor(message: string) {
    super(message.replace(/\s*\n\s*/g, " "));
    this.name = "OnnxImportError";
  }
}

/** The operators `importOnnx` accepts (in some forms; others fail at load time). */
export const SUPPORTED_OPS: readonly string[] = [
  "Add",
  "AveragePool",
  "BatchNormalization",
  "Cast",
  "Concat",
  "Constant",
  "Conv",
  "Div",
  "Dropout",
  "Flatten",
  "Gather",
  "Gemm",
  "GlobalAveragePool",
  "GlobalMaxPool",
  "Identity",
  "LogSoftmax",
  "MatMul",
  "MaxPool",
  "Mul",
  "Relu",
  "Reshape",
  "Resize",
  "Shape",
  "Sigmoid",
  "Softmax",
  "Squeeze",
  "Sub",
  "Tanh",
  "Transpose",
  "Unsqueeze",
  "Upsample",
];

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

/**
 * The checks that need no GPU: every operator supported, one graph input and one output.
 * Throws OnnxImportError naming the file and the first problem (a pipeline runs this before
 * any GPU work, so a bad model file is refused at once).
 */
export function checkImportable(model: OnnxModel, file = "<model>"): void {
  const opset = opsetVersion(model);
  const g = model.graph;
  for (const node of g.nodes) {
    if (!SUPPORTED_OPS.includes(node.opType) || (node.domain && node.domain !== "ai.onnx")) {
      throw nodeError(model, file, opset, node, "unsupported operator");
    }
  }
  if (g.inputs.length !== 1) {
    throw new OnnxImportError(
      `${file}: expected one graph input, found ${g.inputs.length} (${
        g.inputs.map((v) => v.name).join(", ")
      })`,
    );
  }
  if (g.outputs.length !== 1) {
    throw new OnnxImportError(`${file}: expected one graph output, found ${g.outputs.length}`);
  }
}
