/**
 * The raw (non-differentiable) elementwise kernel generator: a WGSL expression over named
 * tensors with NumPy broadcasting, and `full`. It records nothing on the autograd tape, so
 * `backward()` can use it to seed and accumulate gradients, and the differentiable ops of
 * `elementwise.ts`, `reduce.ts`, the losses … are built on top of it.
 */
import { gpu } from "../gpu.ts";
import { empty, type Tensor } from "../tensor.ts";
import { decls, grid, lit, main1d, run, strides } from "./kernel.ts";

/** The broadcast shape of two shapes (NumPy rules); throws when they do not broadcast. */
export function broadcastShapes(a: readonly number[], b: readonly number[]): number[] {
  const n = Math.max(a.length, b.length);
  const out = [];
  for (let k = 0; k < n; k++) {
    const x = a[a.length - n + k] ?? 1, y = b[b.length - n + k] ?? 1;
    if (x !== y && x !== 1 && y !== 1) {
      throw new Error(`shapes [${a}] and [${b}] do not broadcast`);
    }
    out.push(x === 1 ? y : x);
  }
  return out;
}

function offsetExpr(t: Tensor, shape: readonly number[]): string {
  const n = shape.length;
  const size = shape.reduce((p, d) => p * d, 1);
  if (t.size === 1) return "0u";
  if (t.size === size) return "i";
  const ts = strides(t.shape);
  const os = strides(shape);
  const terms = [];
  for (let d = 0; d < n; d++) {
    const td = d - (n - t.shape.length);
    if (td < 0 || t.shape[td] === 1) continue;
    terms.push(`((i / ${os[d]}u) % ${shape[d]}u) * ${ts[td]}u`);
  }
  return terms.join(" + ") || "0u";
}

/**
 * A new tensor of `shape` whose element i is the WGSL f32 expression `expr` over the
 * named tensors (broadcast to `shape`). Only names the expression uses are bound.
 * Outputs larger than one storage binding are processed in windows.
 */
export function elementwise(
  expr: string,
  vars: Record<string, Tensor>,
  shape: readonly number[],
): Tensor {
  const used = Object.entries(vars).filter(([k]) => new RegExp(`\\b${k}\\b`).test(expr));
  for (const [k, t] of used) {
    const b = broadcastShapes(t.shape, shape);
    if (b.length !== shape.length || b.some((d, j) => d !== shape[j])) {
      throw new Error(`elementwise: ${k} [${t.shape}] does not broadcast to [${shape}]`);
    }
  }
  const out = empty(shape);
  if (out.size === 0) return out;
  const g = gpu();
  const windows = g.windows(out.bytes);
  if (
    windows.length === 1 && out.size % 4 === 0 &&
    used.every(([, t]) => t.size === 1 || t.size === out.size)
  ) {
    run(vectorCode(expr, used, out.size), [...used.map(([, t]) => t), out], grid(out.size / 4));
    return out;
  }
  if (windows.length > 1 && used.some(([, t]) => t.size !== 1 && t.size !== out.size)) {
    throw new Error(`elementwise: broadcasting into a tensor larger than one binding`);
  }
  for (const w of windows) {
    const n = w.size / 4;
    const names = used.map(([k]) => `in_${k}`);
    const loads = used.map(([k, t]) =>
      `  let ${k} = in_${k}[${
        windows.length > 1 ? (t.size === 1 ? "0u" : "i") : offsetExpr(t, shape)
      }];`
    );
    const code = `${decls([...names, "out"])}
${main1d(n)}
${loads.join("\n")}
  out[i] = ${expr};
}`;
    const binds = used.map(([, t]) =>
      t.size === 1 || windows.length === 1 ? t : { buffer: t.buffer, ...w }
    );
    run(code, [...binds, windows.length === 1 ? out : { buffer: out.buffer, ...w }], grid(n));
  }
  return out;
}

/**
 * The elementwise kernel four elements per invocation (vec4 loads and store: on Mesa's
 * software adapters each storage access costs about as much as a vec4 one), for outputs of
 * a multiple of 4 elements whose inputs are all full-size or scalars: `expr` becomes a
 * function of the scalar inputs, applied to each component.
 */
function vectorCode(expr: string, used: [string, Tensor][], n: number): string {
  const full = ([, t]: [string, Tensor]) => t.size !== 1;
  const decl = used.map(([k, t], j) =>
    `@group(0) @binding(${j}) var<storage, read> in_${k}: array<${
      t.size === 1 ? "f32" : "vec4<f32>"
    }>;`
  );
  const args = used.map(([k]) => `${k}: f32`).join(", ");
  const call = (c: string) =>
    `f(${used.map((u) => (full(u) ? `v_${u[0]}.${c}` : `s_${u[0]}`)).join(", ")})`;
  return `${decl.join("\n")}
@group(0) @binding(${used.length}) var<storage, read_write> out: array<vec4<f32>>;
fn f(${args}) -> f32 {
  return ${expr};
}
${main1d(n / 4)}
${
    used.map((u) =>
      full(u) ? `  let v_${u[0]} = in_${u[0]}[i];` : `  let s_${u[0]} = in_${u[0]}[0];`
    ).join("\n")
  }
  out[i] = vec4<f32>(${["x", "y", "z", "w"].map(call).join(", ")});
}`;
}

/** A tensor of `shape` filled with `value`. */
export function full(shape: readonly number[], value: number): Tensor {
  return elementwise(lit(value), {}, shape);
}
