/**
 * The batch norm codec: inference-form ONNX `BatchNormalization` (one output) ⇄
 * `BatchNorm` with its affine weights and running statistics (ONNX's momentum is
 * 1 − PyTorch's).
 *
 * @module
 */
import { BatchNorm } from "../../core/nn/batchnorm.ts";
import { registerCodec } from "../codec.ts";
import { float } from "../emit.ts";
import { f32 } from "../import_context.ts";
import { attrFloat, attrInt } from "../read.ts";
import { upload } from "./util.ts";

/** BatchNormalization ⇄ BatchNorm. */
export const batchNormCodec = registerCodec<BatchNorm>({
  name: "batchnorm",
  opTypes: ["BatchNormalization"],
  import(node, imp) {
    const x = imp.tensorIn(node, 0);
    if (attrInt(node, "training_mode", 0) !== 0 || node.outputs.filter((o) => o).length > 1) {
      imp.fail(node, "only inference-form BatchNormalization (one output) is supported");
    }
    const [scale, bias, mean, variance] = [1, 2, 3, 4].map((k) =>
      imp.constIn(node, k, `input ${k}`)
    );
    const m = new BatchNorm(scale.dims[0], {
      eps: attrFloat(node, "epsilon", 1e-5),
      momentum: 1 - attrFloat(node, "momentum", 0.9),
    });
    upload(m.weight!, f32(scale));
    upload(m.bias!, f32(bias));
    upload(m.runningMean!, f32(mean));
    upload(m.runningVar!, f32(variance));
    imp.addStep(node, m, [x], node.inputs[1]);
  },
  matches: (m) => m instanceof BatchNorm,
  export(m, ctx) {
    if (!m.weight || !m.bias || !m.runningMean || !m.runningVar) {
      throw new Error(
        `export: ${ctx.name}: BatchNorm without affine weights or running statistics`,
      );
    }
    const ins = [
      ctx.input,
      ctx.param("weight", m.weight),
      ctx.param("bias", m.bias),
      ctx.param("running_mean", m.runningMean),
      ctx.param("running_var", m.runningVar),
    ];
    return ctx.node("BatchNormalization", ins, {
      epsilon: float(m.eps),
      momentum: float(1 - (m.momentum ?? 0.1)),
    });
  },
});
