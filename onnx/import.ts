/**
 * ONNX import: a read graph → engine modules with PyTorch-style parameter names.
 *
 * Every node is checked before any module is built, so an unsupported operator (or an
 * unsupported form of a supported one) fails at load time with one line naming the file,
 * the operator, the node and the opset. Then:
 *
 * - Conv → Conv2d, BatchNormalization → BatchNorm, Relu/Sigmoid/Tanh → activations,
 *   MaxPool/AveragePool/GlobalAveragePool/GlobalMaxPool → the pooling plugins, Dropout →
 *   Dropout, Gemm/MatMul by a constant → `GemmLayer` (weight [out, in] as Linear's),
 *   Flatten, Reshape, Softmax/LogSoftmax (both opset rules), Add/Sub/Mul/Div, Concat,
 *   Transpose, Resize (nearest, whole factors: the adaptive-pool form).
 * - Identity and Constant only rename or add values; Shape/Gather/Unsqueeze/Concat/Squeeze/
 *   Cast on shapes and constants are evaluated on the CPU — at import when they depend on
 *   constants only, at run time from the tensors' shapes when they use Shape (so a Reshape
 *   written for a fixed batch of 1 still works for a batch of 8).
 *
 * Names: a weight initializer named like `features.0.weight` gives the module path
 * `features.0`; PyTorch's node names (`/features/features.1/Relu`) name parameterless
 * steps; otherwise (the ONNX zoo's `vgg0_conv0_weight`) paths are assigned as torchvision
 * numbers VGG: `features.i` up to the flatten, `avgpool` for a pool right before it,
 * `classifier.j` after it — so a torchvision state dict loads into either flavour.
 *
 * The work is split along its seams: `import_check.ts` (the operator list, the error type
 * and the GPU-free checks), `import_context.ts` (values and the importer context),
 * `import_fold.ts` (constant folding), `import_ops.ts` (the per-operator builders) and
 * `import_names.ts` (module paths). This file dispatches nodes to them and is the public
 * entry.
 *
 * @module
 */
import { ReLU, Sigmoid, Tanh } from "../core/nn/activation.ts";
import { Dropout } from "../core/nn/dropout.ts";
import type { Module } from "../core/nn/module.ts";
import { GlobalAvgPool2d, GlobalMaxPool2d } from "../plugins/pooling/global.ts";
import { OnnxNet } from "./graph_module.ts";
import { checkImportable, OnnxImportError } from "./import_check.ts";
import { cpuOf, Importer } from "./import_context.ts";
import { constant, cpuShapeOps, shapeOp } from "./import_fold.ts";
import { assignPaths } from "./import_names.ts";
import {
  batchNorm,
  binary,
  conv,
  dropout,
  gemm,
  matmulOp,
  pool,
  reshapeOp,
  resize,
  softmaxOp,
} from "./import_ops.ts";
import { ConcatLayer, FlattenLayer, IdentityLayer, TransposeLayer } from "./layers.ts";
import {
  attrInt,
  attrInts,
  type OnnxModel,
  type OnnxNode,
  readOnnxFile,
  type ReadOptions,
} from "./read.ts";

export { checkImportable, OnnxImportError, SUPPORTED_OPS } from "./import_check.ts";

/** Options of `importOnnx`. */
export interface ImportOptions {
  /** Name for messages (the file path). */
  file?: string;
  /** Keep the read model on the net (`net.source`) for `cutModel` (default true). */
  keepSource?: boolean;
}

/** Builds the step (or CPU value) for one node, or fails naming it. */
function build(imp: Importer, node: OnnxNode): void {
  if (node.domain && node.domain !== "ai.onnx") {
    imp.fail(node, `operator domain '${node.domain}' is not supported`);
  }
  const op = node.opType;
  switch (op) {
    case "Conv":
      return conv(imp, node);
    case "Relu":
      return imp.addStep(node, new ReLU(), [imp.tensorIn(node, 0)]);
    case "Sigmoid":
      return imp.addStep(node, new Sigmoid(), [imp.tensorIn(node, 0)]);
    case "Tanh":
      return imp.addStep(node, new Tanh(), [imp.tensorIn(node, 0)]);
    case "MaxPool":
      return pool(imp, node, true);
    case "AveragePool":
      return pool(imp, node, false);
    case "GlobalAveragePool":
      return imp.addStep(node, new GlobalAvgPool2d(), [imp.tensorIn(node, 0)]);
    case "GlobalMaxPool":
      return imp.addStep(node, new GlobalMaxPool2d(), [imp.tensorIn(node, 0)]);
    case "BatchNormalization":
      return batchNorm(imp, node);
    case "Flatten": {
      const v = imp.val(node, node.inputs[0]);
      if (v.kind !== "tensor") imp.fail(node, "Flatten of a constant is not supported");
      return imp.addStep(node, new FlattenLayer(attrInt(node, "axis", 1)), [v.name]);
    }
    case "Reshape":
      return reshapeOp(imp, node);
    case "Gemm":
      return gemm(imp, node);
    case "MatMul":
      return matmulOp(imp, node);
    case "Add":
    case "Sub":
    case "Mul":
    case "Div":
      return binary(imp, node);
    case "Dropout":
      return dropout(imp, node);
    case "Softmax":
      return softmaxOp(imp, node, false);
    case "LogSoftmax":
      return softmaxOp(imp, node, true);
    case "Identity":
      imp.vals.set(node.outputs[0], imp.val(node, node.inputs[0]));
      return;
    case "Constant":
      return constant(imp, node);
    case "Shape":
      return shapeOp(imp, node);
    case "Gather":
    case "Unsqueeze":
    case "Squeeze":
    case "Cast":
      return cpuShapeOps(imp, node);
    case "Concat": {
      const vs = node.inputs.map((n) => imp.val(node, n));
      if (vs.every((v) => v.kind === "tensor")) {
        return imp.addStep(
          node,
          new ConcatLayer(attrInt(node, "axis", 0)),
          vs.map((v) => (v as { name: string }).name),
        );
      }
      return cpuShapeOps(imp, node);
    }
    case "Transpose":
      return imp.addStep(node, new TransposeLayer(attrInts(node, "perm")), [imp.tensorIn(node, 0)]);
    case "Resize":
    case "Upsample":
      return resize(imp, node);
    default:
      imp.fail(node, "unsupported operator");
  }
}

// ---- entry points -----------------------------------------------------------------------

/**
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

/** Whether a step is an identity in inference (Dropout, Identity). */
export function isPassThrough(m: Module): boolean {
  return m instanceof Dropout || m instanceof IdentityLayer;
}
