/**
 * The matrices of Winograd F(m, 3) (Toom-Cook, for correlation) and the WGSL of their
 * linear combinations, for `conv_winograd.ts` (pure: no WebGPU calls).
 *
 * @module
 */

/** The transforms of F(m×m, 3×3): Bᵀ (α×α), G (α×3), Aᵀ (m×α), α = m + 2. */
export interface Transforms {
  m: number;
  a: number;
  BT: number[][];
  G: number[][];
  AT: number[][];
}

/** Interpolation points, in the order the tiles take them (then ∞). */
const POINTS = [0, 1, -1, 2, -2, 1 / 2, -1 / 2];

/** Coefficients (constant first) of Π (x − r) over `roots`. */
function poly(roots: number[]): number[] {
  let c = [1];
  for (const r of roots) c = [...c.map((v) => -r * v), 0].map((v, i) => v + (c[i - 1] ?? 0));
  return c;
}

/**
 * The Toom-Cook matrices of F(m, 3) for correlation, from the α − 1 first `POINTS` and ∞
 * (Lavin & Gray 2015; F(4, 3) gives exactly their matrices). Linear convolution s = g ∗ x
 * is interpolated from s(p) = g(p)·x(p) and the leading coefficient, s = C[(H g) ⊙ (X x)]
 * (H, X Vandermonde rows, C Lagrange), and correlation is its transpose: y = Xᵀ[(H g) ⊙
 * (Cᵀ d)]. Each Lagrange denominator f_k = Π_{l≠k}(p_k − p_l) moves from Cᵀ into G, so Bᵀ
 * holds the numerators' coefficients: Aᵀ = Xᵀ, G[k][j] = p_k^j / f_k, Bᵀ[k] = coefficients
 * of Π_{l≠k}(x − p_l), and ∞'s row of Bᵀ those of Π_l (x − p_l).
 */
export function winogradTransforms(m: number): Transforms {
  const a = m + 2, pts = POINTS.slice(0, a - 1);
  if (m < 1 || pts.length < a - 1) throw new Error(`winogradTransforms: no F(${m}, 3)`);
  const BT = pts.map((_, k) => poly(pts.filter((_, l) => l !== k)).concat(0));
  BT.push(poly(pts));
  const G = pts.map((pk, k) => {
    const f = pts.reduce((acc, pl, l) => (l === k ? acc : acc * (pk - pl)), 1);
    return [0, 1, 2].map((j) => pk ** j / f);
  });
  G.push([0, 0, 1]);
  const AT = [...Array(m).keys()].map((i) => [...pts.map((pk) => pk ** i), i === m - 1 ? 1 : 0]);
  return { m, a, BT, G, AT };
}

/** WGSL for Σ c_k·t_k over the non-zero coefficients (exact ±1 as additions). */
export function lin(coefs: number[], terms: string[]): string {
  const parts: string[] = [];
  coefs.forEach((c, k) => {
    if (c === 0) return;
    const mag = Math.abs(c) === 1 ? terms[k] : `${Math.abs(c).toPrecision(9)} * ${terms[k]}`;
    parts.push(parts.length === 0 ? (c < 0 ? `-${mag}` : mag) : `${c < 0 ? "-" : "+"} ${mag}`);
  });
  return parts.length ? `(${parts.join(" ")})` : "0.0";
}
