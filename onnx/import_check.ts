/**
 * The GPU-free side of ONNX import: the operator list (`SUPPORTED_OPS`, the codec
 * registry's op types) and `checkImportable`, which refuses a model before any GPU work.
 * Importing this module loads every built-in codec (onnx/codecs/index.ts).
 *
 * @module
 */
import { codecForNode, supportedOps } from "./codec.ts";
import "./codecs/index.ts";
import { nodeError, OnnxImportError } from "./import_error.ts";
import { type OnnxModel, opsetVersion } from "./read.ts";

export { nodeError, OnnxImportError } from "./import_error.ts";

/**
 * The operators `importOnnx` accepts (in some forms; others fail at load time): the op
 * types of the built-in codecs. Codecs registered later (plugins) are accepted too; see
 * `supportedOps()` in codec.ts for the live list.
 */
export const SUPPORTED_OPS: readonly string[] = supportedOps();

/**
 * The checks that need no GPU: every operator supported, one graph input and one output.
 * Throws OnnxImportError naming the file and the first problem (a pipeline runs this before
 * any GPU work, so a bad model file is refused at once).
 */
export function checkImportable(model: OnnxModel, file = "<model>"): void {
  const opset = opsetVersion(model);
  const g = model.graph;
  for (const node of g.nodes) {
    if (!codecForNode(node)) throw nodeError(model, file, opset, node, "unsupported operator");
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
