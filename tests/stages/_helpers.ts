/** Shared helpers for the data-stage tests. */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { FloatImage } from "../../stages/types.ts";
import { tempDirSync } from "../_temp.ts";

/** Repository root. */
export const ROOT = fileURLToPath(new URL("../../", import.meta.url));
/** The Intel-layout fixture set. */
export const INTEL = ROOT + "fixtures/intel";
/** Its training folder. */
export const TRAIN = INTEL + "/seg_train/seg_train";
/** Pillow / torchvision reference vectors. */
export const REF = ROOT + "fixtures/resize";

/**
 * A temporary tree of fixture copies: each key is a path in the tree, its value a path under
 * fixtures/intel ("" makes an empty file).
 */
export function tempTree(files: Record<string, string>): string {
  const dir = tempDirSync();
  for (const [to, from] of Object.entries(files)) {
    Deno.mkdirSync(join(dir, to, ".."), { recursive: true });
    if (from) Deno.copyFileSync(join(INTEL, from), join(dir, to));
    else Deno.writeFileSync(join(dir, to), new Uint8Array());
  }
  return dir;
}

/** Collect a stream into an array. */
export async function collect<T>(s: ReadableStream<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of s) out.push(x);
  return out;
}

/** Mean and max absolute difference of two equal-length arrays. */
export function diff(a: ArrayLike<number>, b: ArrayLike<number>): { mean: number; max: number } {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let sum = 0;
  let max = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    sum += d;
    if (d > max) max = d;
  }
  return { mean: sum / a.length, max };
}

/** Assert two numbers agree to within `tol`. */
export function near(actual: number, expected: number, tol: number, what = ""): void {
  if (!(Math.abs(actual - expected) <= tol)) {
    throw new Error(`${what}: ${actual} differs from ${expected} by more than ${tol}`);
  }
}

export { assert, assertEquals, assertNotEquals, assertRejects, assertThrows } from "../assert.ts";

/** Per-channel sums and probe values, as refs.json summarises a tensor. */
export function summary(img: FloatImage, probe: number[][]): { sums: number[]; probe: number[] } {
  const hw = img.width * img.height;
  const sums = Array.from({ length: img.channels }, (_, c) => {
    let s = 0;
    for (let i = c * hw; i < (c + 1) * hw; i++) s += img.data[i];
    return s;
  });
  const values = probe.filter(([c]) => c < img.channels).map(([c, y, x]) =>
    img.data[(c * img.height + y) * img.width + x]
  );
  return { sums, probe: values };
}

/** Assert a summary matches torchvision's within tolerances. */
export function matches(
  got: { sums: number[]; probe: number[] },
  want: { sums: number[]; probe: number[] },
  what: string,
  tol = 1e-5,
): void {
  got.sums.forEach((s, c) => near(s, want.sums[c], tol * 22500, `${what} sum[${c}]`));
  got.probe.forEach((v, i) => near(v, want.probe[i], tol, `${what} probe[${i}]`));
}
