/**
 * What distinguishes one windowed pool from another (`WindowReduction`), shared by the
 * scalar kernels of `window.ts` and the vector kernels of `window_vector.ts`.
 *
 * @module
 */

/**
 * A pooling reduction: everything that distinguishes one windowed pool from another. The
 * generator scans each window's taps inside the input (padding is never read) and, for
 * the gradient, applies `grad` to each (window, tap) pair.
 */
export interface WindowReduction {
  /** Module-scope WGSL both kernels share (helper functions, tables). */
  prelude?: string;
  /** Statements before a window's scan (declare the accumulator). */
  init: string;
  /** Statements per tap inside the input: `v` (f32) its value, `tap` (i32) ky·KW + kx. */
  accumulate: string;
  /** The output, an f32 expression after the scan (`oh`, `ow` are the window, i32). */
  finish: string;
  /** An i32 expression the forward saves per window for the backward as `win` (the argmax). */
  argmax?: string;
  /**
   * The gradient reaching tap `tap` of window (`oh`, `ow`), an f32 expression over `go`
   * (the window's output gradient) and, as `uses` declares, `v` (the tap's input value),
   * `yv` (the window's output) and `win` (the saved argmax).
   */
  grad: string;
  /** Which saved values `grad` reads besides `go` and `win`. */
  uses?: { x?: boolean; y?: boolean };
}
