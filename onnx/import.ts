/**
 * ONNX import: a read graph → engine modules with PyTorch-style parameter names.
 *
 * Every node is checked before any module is built, so an unsupported operator (or an
 * unsupported form of a supported one) fails at load time with one line naming the file,
 * the operator, the node and the opset. Then each node goes to the codec registered for
 * its op type (onnx/codec.ts; the layer families in onnx/codecs/, the pooling plugins in
 * their own files, and any plugin's codec), which adds its step or CPU value:
 *
 * - Conv → Conv2d, BatchNormalization → BatchNorm, Relu/Sigmoid/Tanh → activations,
 *   MaxPool/AveragePool/LpPool/GlobalAveragePool/GlobalMaxPool → the pooling plugins,
 *   Dropout → Dropout, Gemm/MatMul by a constant → `GemmLayer` (weight [out, in] as
 *   Linear's), Flatten, Reshape, Softmax/LogSoftmax (both opset rules), Add/Sub/Mul/Div,
 *   Concat, Transpose, Resize/Upsample (nearest and linear, see onnx/codecs/resize.ts).
 * - Identity and Constant only rename or add values; Shape/Gather/Unsqueeze/Concat/Squeeze/
 *   Cast/Slice on shapes and constants are evaluated on the CPU (onnx/import_fold.ts) — at
 *   import when they depend on constants only, at run time from the tensors' shapes when
 *   they use Shape (so a Reshape written for a fixed batch of 1 still works for a batch of 8).
 *
 * Names: a weight initializer named like `features.0.weight` gives the module path
 * `features.0`; PyTorch's node names (`/features/features.1/Relu`) name parameterless
 * steps; otherwise (the ONNX zoo's `vgg0_conv0_weight`) paths are assigned as torchvision
 * numbers VGG: `features.i` up to the flatten, `avgpool` for a pool right before it,
 * `classifier.j` after it — so a torchvision state dict loads into either flavour.
 *
 * The work is split along its seams: `import_check.ts` (the GPU-free checks),
 * `import_context.ts` (values and the importer context), `codec.ts` and `codecs/` (the
 * per-operator builders), `import_fold.ts` (constant folding) and `import_names.ts`
 * (module paths). This file walks the graph and is the public entry.
 *
 * @module
 */
import type { Module } from "../core/nn/module.ts";
import { codecForNode } from "./codec.ts";
import { OnnxNet } from "./graph_module.ts";
import { checkImportable, OnnxImportError } from "./import_check.ts";
import { cpuOf, Importer } from "./import_context.ts";
import { assignPaths } from "./import_names.ts";
import { type OnnxModel, type OnnxNode, readOnnxFile, type ReadOptions } from "./read.ts";

export { checkImportable, OnnxImportError, SUPPORTED_OPS } from "./import_check.ts";
export { supportedOps } from "./codec.ts";

/** Options of `importOnnx`. */
export interface ImportOptions {
  /** Name for messages (the file path). */
  file?: string;
  /** Keep the read model on the net (`net.source`) for `cutModel` (default true). */
  keepSource?: boolean;
}

/** Builds the step (or CPU value) for one node through its codec, or fails naming it. */
function build(imp: Importer, node: OnnxNode): void {
  const codec = codecForNode(node);
  if (!codec) imp.fail(node, "unsupported operator");
  codec.import!(node, imp);
}

// ---- entry points -----------------------------------------------------------------------

/**
 * Builds an `OnnxNet` from a read model. Throws `OnnxImportError` (one line: file,
 * problem, operator, node, opset) for anything it cannot run, before uploading weights
 * of later nodes. Needs `initGpu()` first.
 *
 * @example
 * const net = importOnnx(readOnnxFileSync("vgg16.onnx"), { file: "vgg16.onnx" });
 */
export function importOnnx(model: OnnxModel, opts: ImportOptions = {}): OnnxNet {
  const file = opts.file ?? "<model>";
  checkImportable(model, file);
  const imp = new Importer(model, file);
  const g = model.graph;
  for (const [name, t] of g.initializers) {
    try {
      imp.vals.set(name, { kind: "const", v: cpuOf(t), init: name });
    } catch (e) {
      throw new OnnxImportError(`${file}: initializer '${name}': ${(e as Error).message}`);
    }
  }
  const input = g.inputs[0];
  imp.vals.set(input.name, { kind: "tensor", name: input.name });
  const built: Module[] = [];
  try {
    for (const node of g.nodes) {
      const before = imp.steps.length;
      build(imp, node);
      for (const s of imp.steps.slice(before)) built.push(s.module);
    }
  } catch (e) {
    for (const m of built) m.dispose();
    throw e;
  }
  const outVal = imp.vals.get(g.outputs[0].name);
  if (!outVal || outVal.kind !== "tensor") {
    for (const m of built) m.dispose();
    throw new OnnxImportError(
      `${file}: graph output '${g.outputs[0].name}' is not computed from the input`,
    );
  }
  // An output renamed by Identity: the last step's value carries the graph output's name.
  const outputName = outVal.name;
  assignPaths(imp.steps, imp.weightNames);
  const inputShape = input.type?.kind === "tensor" ? input.type.shape ?? [] : [];
  return new OnnxNet({
    steps: imp.steps,
    inputName: input.name,
    inputShape,
    outputName,
    opset: imp.opset,
    source: opts.keepSource === false ? undefined : model,
    file,
  });
}

/**
 * Reads and imports an ONNX file (external data from its folder).
 *
 * @example
 * await initGpu();
 * const net = await importOnnxFile("fixtures/onnx/vgg/torchvision.onnx");
 */
export async function importOnnxFile(
  path: string,
  opts: Omit<ImportOptions, "file"> & Omit<ReadOptions, "name"> = {},
): Promise<OnnxNet> {
  const model = await readOnnxFile(path, opts);
  return importOnnx(model, { ...opts, file: path });
}
