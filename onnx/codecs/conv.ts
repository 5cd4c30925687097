/**
 * The convolution codec: ONNX `Conv` (2-D, grouped, dilated, explicit or automatic pads)
 * ⇄ `Conv2d`. An untied bias is written as an Add after the Conv, and a Conv2d built with
 * `relu: true` gets a Relu node. Its fusion with a following ReLU is the engine's own rule
 * (core/nn/sequential.ts), so Sequential and imported chains share it.
 *
 * @module
 */
import { Conv2d } from "../../core/nn/conv.ts";
import { convGeometry } from "../../core/ops/conv_ref.ts";
import { registerCodec } from "../codec.ts";
import { type Attr, int, ints, str } from "../emit.ts";
import { f32 } from "../import_context.ts";
import { attrInt, attrInts } from "../read.ts";
import { autoPad, pair, upload } from "./util.ts";

/** Conv ⇄ Conv2d. */
export const convCodec = registerCodec<Conv2d>({
  name: "conv",
  opTypes: ["Conv"],
  import(node, imp) {
    const x = imp.tensorIn(node, 0);
    const w = imp.constIn(node, 1, "the weight");
    if (w.dims.length !== 4) {
      imp.fail(node, `only 2-D convolutions are supported (weight [${w.dims}])`);
    }
    const b = node.inputs[2] ? imp.constIn(node, 2, "the bias") : null;
    const group = attrInt(node, "group", 1);
    const [out, cg, kh, kw] = w.dims;
    const ks = attrInts(node, "kernel_shape", [kh, kw]);
    if (ks[0] !== kh || ks[1] !== kw) {
      imp.fail(node, `kernel_shape [${ks}] does not match the weight`);
    }
    const m = new Conv2d(cg * group, out, [kh, kw], {
      stride: pair(imp, node, "strides", 1),
      dilation: pair(imp, node, "dilations", 1),
      padding: autoPad(imp, node),
      groups: group,
      bias: !!b,
    });
    upload(m.weight, f32(w));
    if (b && m.bias) upload(m.bias, f32(b));
    imp.addStep(node, m, [x], node.inputs[1]);
  },
  matches: (m) => m instanceof Conv2d,
  export(m, ctx) {
    const o = m.options;
    const g = convGeometry(ctx.x.shape, m.weight.shape, o);
    const a: Attr = {
      kernel_shape: ints([g.KH, g.KW]),
      strides: ints([g.SH, g.SW]),
      dilations: ints([g.DH, g.DW]),
      group: int(g.G),
    };
    if (o.padding === "same") a.auto_pad = str("SAME_UPPER");
    else if (o.padding === "same_lower") a.auto_pad = str("SAME_LOWER");
    else a.pads = ints([g.PT, g.PL, g.PB, g.PR]);
    const tied = m.bias && m.bias.shape.length === 1;
    const ins = [ctx.input, ctx.param("weight", m.weight)];
    if (tied) ins.push(ctx.param("bias", m.bias!));
    let y = ctx.node("Conv", ins, a);
    if (m.bias && !tied) {
      y = ctx.node("Add", [y, ctx.param("bias", m.bias)], {}, `${ctx.name}_bias`);
    }
    if (o.relu) y = ctx.node("Relu", [y], {}, `${ctx.name}_relu`);
    return y;
  },
});
