/**
 * 2-D resize of NCHW tensors — bilinear or nearest, with ONNX's coordinate rules
 * (half_pixel, pytorch_half_pixel, align_corners, asymmetric, tf_half_pixel_for_nn; see
 * `resize_ref.ts`, which holds the float64 reference and the rules). Forward and backward
 * side by side.
 *
 * How: each axis's taps (two input indices and a weight per output index) are worked out
 * on the CPU in float64 and baked into the WGSL as constant tables, so a source coordinate
 * that lands exactly on an input (align_corners, whole factors) is exact and the GPU agrees
 * with the reference bit for bit on the indices. The forward kernel mixes the four taps of
 * each output; the backward kernel is a gather: each input element sums, over the outputs
 * that read it (per axis a list built from the same taps), weight_h · weight_w · g — no
 * atomics. Inputs and outputs must fit one storage binding each.
 *
 * @module
 */
import { record } from "../autograd.ts";
import { empty, type Tensor } from "../tensor.ts";
import { decls, fitsBinding, grid, lit, main1d, run } from "./kernel.ts";
import { axisTaps, type ResizeOptions, resizeScales } from "./resize_ref.ts";

export type { CoordinateMode, NearestMode, ResizeOptions } from "./resize_ref.ts";

type Taps = ReturnType<typeof axisTaps>;

/** A WGSL module-scope table `name` of `type` holding `values`. */
function table(name: string, type: "u32" | "f32", values: ArrayLike<number>): string {
  const items = Array.from(values, (v) => (type === "u32" ? `${v}u` : lit(v)));
  return `var<private> ${name}: array<${type}, ${items.length}> = array<${type}, ${items.length}>(${
    items.join(", ")
  });`;
}

/** Per input index, the outputs that read it and with what weight (CSR: start, out, weight). */
function readers(inLen: number, t: Taps): { start: number[]; out: number[]; weight: number[] } {
  const lists: [number, number][][] = Array.from({ length: inLen }, () => []);
  const add = (i: number, o: number, w: number) => {
    if (w === 0) return;
    const l = lists[i], last = l[l.length - 1];
    if (last && last[0] === o) last[1] += w;
    else l.push([o, w]);
  };
  t.i0.forEach((i, o) => {
    add(i, o, 1 - t.f[o]);
    add(t.i1[o], o, t.f[o]);
  });
  const start = [0];
  for (const l of lists) start.push(start[start.length - 1] + l.length);
  return {
    start,
    out: lists.flatMap((l) => l.map((e) => e[0])),
    weight: lists.flatMap((l) => l.map((e) => e[1])),
  };
}

function forwardCode(
  planes: number,
  H: number,
  W: number,
  th: Taps,
  tw: Taps,
  linear: boolean,
): string {
  const [OH, OW] = [th.i0.length, tw.i0.length];
  const tables = [table("H0", "u32", th.i0), table("W0", "u32", tw.i0)];
  let body = `y[i] = x[xb + H0[oh] * ${W}u + W0[ow]];`;
  if (linear) {
    tables.push(table("H1", "u32", th.i1), table("W1", "u32", tw.i1));
    tables.push(table("FH", "f32", th.f), table("FW", "f32", tw.f));
    body = `let r0 = xb + H0[oh] * ${W}u;
  let r1 = xb + H1[oh] * ${W}u;
  let fw = FW[ow];
  var top = x[r0 + W0[ow]];
  var bottom = x[r1 + W0[ow]];
  if (fw != 0.0) {
    top = (1.0 - fw) * top + fw * x[r0 + W1[ow]];
    bottom = (1.0 - fw) * bottom + fw * x[r1 + W1[ow]];
  }
  let fh = FH[oh];
  y[i] = select((1.0 - fh) * top + fh * bottom, top, fh == 0.0);`;
  }
  return `${decls(["x", "y"])}
${tables.join("\n")}
${main1d(planes * OH * OW)}
  let plane = i / ${OH * OW}u;
  let oh = (i / ${OW}u) % ${OH}u;
  let ow = i % ${OW}u;
  let xb = plane * ${H * W}u;
  ${body}
}`;
}

function backwardCode(planes: number, H: number, W: number, th: Taps, tw: Taps): string {
  const [OH, OW] = [th.i0.length, tw.i0.length];
  const rh = readers(H, th), rw = readers(W, tw);
  return `${decls(["g", "dx"])}
${table("HS", "u32", rh.start)}
${table("HO", "u32", rh.out)}
${table("HW", "f32", rh.weight)}
${table("WS", "u32", rw.start)}
${table("WO", "u32", rw.out)}
${table("WW", "f32", rw.weight)}
${main1d(planes * H * W)}
  let plane = i / ${H * W}u;
  let ih = (i / ${W}u) % ${H}u;
  let iw = i % ${W}u;
  let gb = plane * ${OH * OW}u;
  var acc = 0.0;
  for (var a = HS[ih]; a < HS[ih + 1u]; a++) {
    let ro = gb + HO[a] * ${OW}u;
    var row = 0.0;
    for (var b = WS[iw]; b < WS[iw + 1u]; b++) {
      row = row + WW[b] * g[ro + WO[b]];
    }
    acc = acc + HW[a] * row;
  }
  dx[i] = acc;
}`;
}

/**
 * Resizes the spatial axes of NCHW `x` to `opts.size` (see the module comment).
 *
 * @example
 * const up = resize2d(x, { size: [7, 7], coordinate: "align_corners" }); // bilinear
 * const nn = resize2d(x, { size: [8, 8], mode: "nearest", nearest: "floor" });
 */
export function resize2d(x: Tensor, opts: ResizeOptions): Tensor {
  if (x.shape.length !== 4) throw new Error(`resize2d: expected NCHW, got [${x.shape}]`);
  const [N, C, H, W] = x.shape;
  const [OH, OW] = opts.size;
  if (![OH, OW].every((d) => Number.isInteger(d) && d >= 1) || H < 1 || W < 1) {
    throw new Error(`resize2d: cannot resize [${x.shape}] to ${OH}×${OW}`);
  }
  const [sh, sw] = resizeScales(H, W, opts);
  const th = axisTaps(H, OH, sh, opts), tw = axisTaps(W, OW, sw, opts);
  const planes = N * C;
  const y = empty([N, C, OH, OW]);
  if (y.size === 0) return y;
  fitsBinding("resize2d", Math.max(x.bytes, y.bytes));
  const linear = (opts.mode ?? "linear") === "linear";
  run(forwardCode(planes, H, W, th, tw, linear), [x, y], grid(y.size));
  return record("resize2d", y, [x], (g) => {
    const dx = empty(x.shape);
    run(backwardCode(planes, H, W, th, tw), [g, dx], grid(dx.size));
    return [dx];
  });
}
