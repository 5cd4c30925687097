/**
 * Run by texture_split_test.ts with WEBGPU_MAX_BINDING_BYTES lowered: pools whose input is
 * processed in chunks of planes (each binding a window at an offset) through both routes
 * of `runReading`, printing as JSON, per pool, whether the bits agree, the float64
 * references' errors and how many of each kernel's dispatches read each input through a
 * texture (chunks big enough to) out of how many.
 */
import { gpu, initGpu } from "../../../core/gpu.ts";
import {
  avgCase,
  compareRoutes,
  firstBitDiff,
  lpCase,
  readsThroughTexture,
} from "./texture_route.ts";

await initGpu();
// 200 planes of 33×33 (4,356 bytes): chunks of 64 planes (offsets stay 256-byte aligned),
// whose windows of 278,784 bytes take textures, and a last one of 8 planes that does not.
const S = [8, 25, 33, 33];
const cases = [
  avgCase({ kernel: 3 }, { k: [3, 3], s: [3, 3] }, true),
  lpCase({ kernel: 3, stride: 1, padding: 1 }, { k: [3, 3], s: [1, 1], p: [1, 1, 1, 1] }, 2),
];
const out: Record<string, unknown> = {};
for (const [k, c] of cases.entries()) {
  const r = await compareRoutes(c, S, 30 + k);
  const count = (codes: string[], names: string[]) =>
    Object.fromEntries([...names.map((n) => [n, readsThroughTexture(codes, n)]), [
      "of",
      codes.length,
    ]]);
  out[c.name] = {
    sameBits: firstBitDiff(r.tex.y, r.sto.y) < 0 && firstBitDiff(r.tex.dx, r.sto.dx) < 0,
    fwdError: r.fwdError,
    gradError: r.gradError,
    fwd: count(r.tex.codes.fwd, c.reads.fwd),
    bwd: count(r.tex.codes.bwd, c.reads.bwd),
    storageFwd: r.sto.codes.fwd.length,
  };
}
console.log(JSON.stringify({ maxBindingBytes: gpu().maxBindingBytes, out }));
