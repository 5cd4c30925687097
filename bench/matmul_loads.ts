/**
 * Where the texture matmul's time goes on a software adapter: the shipped 8×8 loop at
 * n = 1024 (A K-packed, B N-packed, both `rgba32float` storage textures: 16 texel loads
 * per 256 FMAs an invocation), timed beside two copies of it with loads taken out —
 * A's loads replaced by arithmetic on the loop counter (what the product would reach if
 * the 8 lanes of a SIMD row, which all read the same A texels, got them for the price
 * of one), and both operands' loads replaced (the FMAs and their spilled accumulators
 * alone). The shares say what a kernel change can win: on lavapipe a `textureLoad` is a
 * per-lane gather, a storage-buffer load a loop over the lanes, and a uniform-buffer load
 * a single load only at an offset made of constants (Mesa's `nir_src_is_always_uniform`),
 * which a loop index never is.
 *
 * ```
 * deno run -A bench/matmul_loads.ts
 * ```
 *
 * @module
 */
import { gpu, initGpu } from "../core/gpu.ts";
import { median } from "./util.ts";

/** GFLOP/s of the three loops (medians of alternating rounds). */
export interface LoadShares {
  /** The shipped loop: A and B texels loaded. */
  full: number;
  /** A's loads replaced by arithmetic. */
  noA: number;
  /** Both operands' loads replaced. */
  noLoads: number;
}

const N = 1024, K4 = N / 4;

/** The 8×8 loop over K = 1024, its A and B loads real (`true`) or arithmetic. */
function loopCode(loadA: boolean, loadB: boolean): string {
  const comp = ["x", "y", "z", "w"];
  const L = [
    "@group(0) @binding(0) var TA: texture_storage_2d_array<rgba32float, read>;",
    "@group(0) @binding(1) var TB: texture_storage_2d_array<rgba32float, read>;",
    "@group(0) @binding(2) var<storage, read_write> C: array<f32>;",
    "@compute @workgroup_size(8, 8, 1)",
    "fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {",
    "  let row0 = (wg.y * 8u + lid.y) * 8u;",
    "  let col0 = (wg.x * 8u + lid.x) * 8u;",
    // Keeps both textures in the layout whatever is loaded in the loop.
    "  let base = textureLoad(TA, vec2<u32>(0u, row0), 0u) + textureLoad(TB, vec2<u32>(col0 / 4u, 0u), 0u);",
  ];
  for (let i = 0; i < 8; i++) for (let j = 0; j < 8; j++) L.push(`  var c${i}_${j} = 0.0;`);
  L.push(`  for (var kt = 0u; kt < ${K4}u; kt++) {`);
  L.push("    let fk = f32(kt);");
  for (let i = 0; i < 8; i++) {
    L.push(
      loadA
        ? `    let a${i} = textureLoad(TA, vec2<u32>(kt, row0 + ${i}u), 0u);`
        : `    let a${i} = base + vec4<f32>(fk, f32(row0 + ${i}u), 1.0, 2.0);`,
    );
  }
  for (let q = 0; q < 4; q++) {
    for (let g = 0; g < 2; g++) {
      L.push(
        loadB
          ? `    let b${q}_${g} = textureLoad(TB, vec2<u32>(col0 / 4u + ${g}u, kt * 4u + ${q}u), 0u);`
          : `    let b${q}_${g} = base + vec4<f32>(f32(col0 + ${g}u), fk, ${q}.0, 3.0);`,
      );
    }
  }
  // Accumulator order, as the shipped loop (core/ops/matmul_texture.ts `step`).
  for (let i = 0; i < 8; i++) {
    for (let j = 0; j < 8; j++) {
      for (let q = 0; q < 4; q++) {
        L.push(
          `    c${i}_${j} = fma(a${i}.${comp[q]}, b${q}_${j >> 2}.${comp[j & 3]}, c${i}_${j});`,
        );
      }
    }
  }
  L.push("  }");
  for (let i = 0; i < 8; i++) {
    for (let j = 0; j < 8; j++) L.push(`  C[(row0 + ${i}u) * ${N}u + col0 + ${j}u] = c${i}_${j};`);
  }
  L.push("}");
  return L.join("\n");
}

/** Runs the three loops in alternating rounds on the engine's device. */
export async function loadShares(rounds = 5): Promise<LoadShares> {
  const g = gpu();
  const a = g.acquireTexture(K4, N, 1), b = g.acquireTexture(K4, N, 1);
  // Small finite values (uninitialised memory could hold denormals or NaNs).
  const fill = new Float32Array(a.width * a.height * 4).map((_, i) => (i % 97) / 97);
  for (const t of [a, b]) {
    g.device.queue.writeTexture({ texture: t }, fill, { bytesPerRow: t.width * 16 }, [
      t.width,
      t.height,
      1,
    ]);
  }
  const c = g.acquire(N * N * 4);
  const binds = [g.view(a), g.view(b), { buffer: c, offset: 0, size: N * N * 4 }];
  const kinds = {
    full: loopCode(true, true),
    noA: loopCode(false, true),
    noLoads: loopCode(false, false),
  };
  const time = async (code: string, reps: number) => {
    const t0 = performance.now();
    for (let r = 0; r < reps; r++) g.dispatch(code, binds, [N / 64, N / 64, 1]);
    await g.sync();
    return (performance.now() - t0) / 1000;
  };
  for (const code of Object.values(kinds)) await time(code, 1); // compiles
  const rates: Record<keyof LoadShares, number[]> = { full: [], noA: [], noLoads: [] };
  for (let r = 0; r < rounds; r++) {
    for (const [k, code] of Object.entries(kinds) as [keyof LoadShares, string][]) {
      rates[k].push((2 * N ** 3 * 3) / (await time(code, 3)) / 1e9);
    }
  }
  g.releaseTexture(a);
  g.releaseTexture(b);
  g.release(c);
  return { full: median(rates.full), noA: median(rates.noA), noLoads: median(rates.noLoads) };
}

/** One line: the three rates and the share of the shipped loop's time each load set takes. */
export function formatLoadShares(s: LoadShares): string {
  const t = (r: number) => 1 / r; // time per FLOP
  const aShare = (t(s.full) - t(s.noA)) / t(s.full), bShare = (t(s.noA) - t(s.noLoads)) / t(s.full);
  return `  where the 8×8 loop's time goes (n = 1024, kernel alone): ${
    s.full.toFixed(1)
  } GFLOP/s ` +
    `with its texel loads, ${s.noA.toFixed(1)} without A's, ${s.noLoads.toFixed(1)} without any: ` +
    `A's loads ${Math.round(100 * aShare)}%, B's ${Math.round(100 * bShare)}%, ` +
    `FMAs and spills ${Math.round(100 * (1 - aShare - bShare))}%`;
}

if (import.meta.main) {
  await initGpu();
  const s = await loadShares();
  console.log(formatLoadShares(s));
  console.log(JSON.stringify({ bench: "matmul-loads", ...s }));
}
