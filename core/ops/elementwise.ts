/**
 * Elementwise ops with NumPy broadcasting: arithmetic, scalar forms, exp/log/sqrt/pow and
 * the activations. Each op is a forward WGSL expression and one derivative expression per
 * input, side by side in the tables below; the raw generator of `raw.ts` turns them into
 * kernels.
 * In expressions `a`, `b` are the inputs, `y` the output and `g` the output's gradient.
 */
import { record } from "../tape.ts";
import type { Tensor } from "../tensor.ts";
import { lit } from "./kernel.ts";
import { broadcastShapes, elementwise, full } from "./raw.ts";
import { sumTo } from "./reduce.ts";

/** A unary op from its forward and derivative expressions (derivative null: gradient 0). */
export function unary(name: string, a: Tensor, f: string, d: string | null): Tensor {
  const y = elementwise(f, { a }, a.shape);
  return record(
    name,
    y,
    [a],
    (g, [a, y]) => [d === null ? full(a.shape, 0) : elementwise(d, { g, a, y }, a.shape)],
    [y],
  );
}

/** A binary broadcasting op from its forward and two derivative expressions. */
export function binary(name: string, a: Tensor, b: Tensor, f: string, da: string, db: string) {
  const shape = broadcastShapes(a.shape, b.shape);
  const y = elementwise(f, { a, b }, shape);
  return record(name, y, [a, b], (g, [sa, sb, sy]) => {
    const v = { g, a: sa, b: sb, y: sy };
    return [
      a.requiresGrad ? sumTo(elementwise(da, v, shape), a.shape) : null,
      b.requiresGrad ? sumTo(elementwise(db, v, shape), b.shape) : null,
    ];
  }, [y]);
}

// ---- arithmetic (tensor ∘ tensor or tensor ∘ number) -------------------------------

/** a + b (broadcasting; b may be a number). */
export function add(a: Tensor, b: Tensor | number): Tensor {
  return typeof b === "number"
    ? unary("addScalar", a, `a + ${lit(b)}`, "g")
    : binary("add", a, b, "a + b", "g", "g");
}

/** a − b (broadcasting; b may be a number). */
export function sub(a: Tensor, b: Tensor | number): Tensor {
  return typeof b === "number"
    ? unary("subScalar", a, `a - ${lit(b)}`, "g")
    : binary("sub", a, b, "a - b", "g", "-g");
}

/** a · b elementwise (broadcasting; b may be a number). */
export function mul(a: Tensor, b: Tensor | number): Tensor {
  return typeof b === "number"
    ? unary("mulScalar", a, `a * ${lit(b)}`, `g * ${lit(b)}`)
    : binary("mul", a, b, "a * b", "g * b", "g * a");
}

/** a / b elementwise (broadcasting; b may be a number). */
export function div(a: Tensor, b: Tensor | number): Tensor {
  return typeof b === "number"
    ? unary("divScalar", a, `a / ${lit(b)}`, `g / ${lit(b)}`)
    : binary("div", a, b, "a / b", "g / b", "-g * a / (b * b)");
}

/** s − a for a number s. */
export function rsub(s: number, a: Tensor): Tensor {
  return unary("rsub", a, `${lit(s)} - a`, "-g");
}

/** a to the power b (b a tensor, or a number; integer powers of negative a are exact). */
export function pow(a: Tensor, b: Tensor | number): Tensor {
  if (typeof b !== "number") {
    return binary("pow", a, b, "pow(a, b)", "g * b * pow(a, b - 1.0)", "g * y * log(a)");
  }
  const ipow = (e: number) => {
    if (e === 0) return "1.0";
    const odd = Math.abs(e) % 2 === 1;
    const mag = `pow(abs(a), ${lit(Math.abs(e))})`;
    const signed = odd ? `select(${mag}, -${mag}, a < 0.0)` : mag;
    return e > 0 ? signed : `(1.0 / ${signed})`;
  };
  if (Number.isInteger(b)) {
    return unary("powScalar", a, ipow(b), b === 0 ? "0.0" : `g * ${lit(b)} * ${ipow(b - 1)}`);
  }
  return unary("powScalar", a, `pow(a, ${lit(b)})`, `g * ${lit(b)} * pow(a, ${lit(b - 1)})`);
}

/** −a. */
export function neg(a: Tensor): Tensor {
  return unary("neg", a, "-a", "-g");
}

/** a². */
export function square(a: Tensor): Tensor {
  return unary("square", a, "a * a", "2.0 * g * a");
}

/** |a| (gradient 0 at 0). */
export function abs(a: Tensor): Tensor {
  return unary("abs", a, "abs(a)", "g * sign(a)");
}

/** eᵃ. */
export function exp(a: Tensor): Tensor {
  return unary("exp", a, "exp(a)", "g * y");
}

/** Natural logarithm. */
export function log(a: Tensor): Tensor {
  return unary("log", a, "log(a)", "g / a");
}

/** Square root. */
export function sqrt(a: Tensor): Tensor {
  return unary("sqrt", a, "sqrt(a)", "g * 0.5 / y");
}

/** max(a, 0). */
export function relu(a: Tensor): Tensor {
  return unary("relu", a, "max(a, 0.0)", "select(0.0, g, a > 0.0)");
}

/** The binary step: 1 where a > 0, else 0; its gradient is zero everywhere. */
export function step(a: Tensor): Tensor {
  return unary("step", a, "select(0.0, 1.0, a > 0.0)", null);
}

/** The logistic sigmoid 1 / (1 + e⁻ᵃ), stable for large |a|. */
export function sigmoid(a: Tensor): Tensor {
  return unary(
    "sigmoid",
    a,
    "select(exp(a) / (1.0 + exp(a)), 1.0 / (1.0 + exp(-a)), a >= 0.0)",
    "g * y * (1.0 - y)",
  );
}

/** Hyperbolic tangent (clamped where f32 saturates anyway). */
export function tanh(a: Tensor): Tensor {
  return unary("tanh", a, "tanh(clamp(a, -20.0, 20.0))", "g * (1.0 - y * y)");
}

/** Arctangent. */
export function atan(a: Tensor): Tensor {
  return unary("atan", a, "atan(a)", "g / (1.0 + a * a)");
}

/** A copy of `a` broadcast to `shape` (gradient: summed back). */
export function expand(a: Tensor, shape: readonly number[]): Tensor {
  const y = elementwise("a", { a }, shape);
  return record("expand", y, [a], (g) => [sumTo(g, a.shape)]);
}
