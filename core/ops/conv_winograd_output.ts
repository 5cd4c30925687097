/**
 * Winograd's output side for `conv_winograd.ts`: the output transform y = Aᵀ M A (+ bias,
 * ReLU, optionally a fused 2×2 max pool) of a chunk of tiles, and M's copy into a texture
 * when its rows can be copied straight from the product's buffer.
 *
 * @module
 */
import { gpu } from "../gpu.ts";
import type { Tensor } from "../tensor.ts";
import type { ConvGeometry } from "./conv_ref.ts";
import { grid, main1d, run } from "./kernel.ts";
import { packOperand } from "./matmul.ts";
import { u32 } from "./matmul_spec.ts";
import { address, packSteps, place } from "./texture_layout.ts";
import type { PlacedTexture } from "./conv_direct.ts";
import { flatDecl, flatLoad, flatTexture } from "./texture_read.ts";
import { lin, type Transforms } from "./winograd_matrices.ts";

/** A chunk of images: the layer, its transforms, tiles per image, the first image, tiles. */
export interface Chunk {
  p: ConvGeometry;
  f: Transforms;
  TH: number;
  TW: number;
  n0: number;
  T: number;
}

/**
 * y (images n0 …) from M [α²][T][Cout]: Aᵀ M A + bias, ReLU; one tile and 4 output
 * channels an invocation (vec4s, component q: channel 4·co4 + q).
 */
export function outputTransform(
  mt: Tensor | PlacedTexture,
  y: Tensor,
  bias: Tensor | null,
  k: Chunk,
  relu: boolean,
  pool: boolean,
): void {
  const { p, f, TH, TW, n0, T } = k;
  const { OH, OW, Cout } = p, Co4 = Math.ceil(Cout / 4), n = T * Co4, vec = Cout % 4 === 0;
  const { m, a } = f;
  // Pairs of outputs a store when rows are of even length: a tile's row then starts at an
  // even float (m is even), and its pairs end inside the row when they start there.
  const V = OW % 2 === 0 && !pool ? 2 : 1;
  const L: string[] = [];
  // Aᵀ M (m × α), then (Aᵀ M) A (m × m).
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < a; j++) {
      L.push(
        `  let s${i}_${j} = ${lin(f.AT[i], [...Array(a).keys()].map((r) => `k${r * a + j}`))};`,
      );
    }
  }
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < m; j++) {
      L.push(`  let y${i}_${j} = ${lin(f.AT[j], [...Array(a).keys()].map((c) => `s${i}_${c}`))};`);
    }
  }
  const store = (q: number) => (pool ? pooledStore(q) : plainStore(q));
  // Channel 4·co4 + q's stores `S`, with `name` the flat index of its plane's (row, col).
  const channel = (
    q: number,
    name: string,
    rows: number,
    cols: number,
    row: string,
    col: string,
    S: string[],
  ) => {
    const co = `co4 * 4u + ${u32(q)}`;
    return `
  if (${co} < ${u32(Cout)}) {
    let ${name} = ((img * ${u32(Cout)} + ${co}) * ${u32(rows)} + ${row}) * ${u32(cols)} + ${col};
${S.join("\n")}
  }`;
  };
  // The fused 2×2 max pool (floor mode): the tile's m/2 × m/2 windows (m is even, so a window
  // never straddles two tiles), each the first maximum, or the first NaN, of its 4 outputs in
  // row-major order (as maxPool2d).
  const OHp = Math.floor(OH / 2), OWp = Math.floor(OW / 2), h = m / 2;
  const pooledStore = (q: number) => {
    const S: string[] = [];
    for (let i = 0; i < h; i++) {
      for (let j = 0; j < h; j++) {
        const taps = [[0, 0], [0, 1], [1, 0], [1, 1]].map(([r, c]) =>
          `act(y${2 * i + r}_${2 * j + c}[${q}] + bv[${q}])`
        );
        S.push(`    if (ph + ${u32(i)} < ${u32(OHp)} && pw + ${u32(j)} < ${u32(OWp)}) {
      var b = ${taps[0]};
${
          taps.slice(1).map((t) =>
            `      { let v = ${t}; if (v > b || (v != v && b == b)) { b = v; } }`
          )
            .join("\n")
        }
      y[pbase + ${u32(i * OWp + j)}] = b;
    }`);
      }
    }
    return channel(q, "pbase", OHp, OWp, "ph", "pw", S);
  };
  const plainStore = (q: number) => {
    const S: string[] = [];
    for (let i = 0; i < m; i++) {
      const row: string[] = [];
      const val = (j: number) => `act(y${i}_${j}[${q}] + bv[${q}])`;
      for (let j = 0; j < m; j += V) {
        const st = V === 2
          ? `y[(base + ${u32(i * OW + j)}) / 2u] = vec2<f32>(${val(j)}, ${val(j + 1)});`
          : `y[base + ${u32(i * OW + j)}] = ${val(j)};`;
        row.push(j === 0 ? `      ${st}` : `      if (ow + ${u32(j)} < ${u32(OW)}) { ${st} }`);
      }
      S.push(
        i === 0
          ? row.join("\n")
          : `    if (oh + ${u32(i)} < ${u32(OH)}) {\n${row.join("\n")}\n    }`,
      );
    }
    return channel(q, "base", OH, OW, "oh", "ow", S);
  };
  // M[e][t] as a vec4 of channels 4·co4 … (clamped past Cout when that is not a multiple of 4).
  const at = (e: string, q: number) =>
    `m[(${e} * ${u32(T)} + t) * ${u32(Cout)} + min(co4 * 4u + ${u32(q)}, ${u32(Cout - 1)})]`;
  const tex = "tex" in mt ? mt : null;
  const read = (e: number) => {
    if (tex) {
      const ad = address(tex.place, u32(e), "t");
      return `textureLoad(m, vec2<u32>(co4, ${ad.y}), ${ad.layer})`;
    }
    return vec
      ? `m[(${u32(e)} * ${u32(T)} + t) * ${u32(Co4)} + co4]`
      : `vec4<f32>(${[0, 1, 2, 3].map((q) => at(u32(e), q)).join(", ")})`;
  };
  // The bias as one texel of a flat texture when Cout is a multiple of 4: four storage loads
  // an invocation cost more than the texel on software adapters.
  const bt = bias && vec ? flatTexture(bias.buffer, 0, Co4) : null;
  const bv = bt
    ? flatLoad("bt", "co4", bt)
    : bias
    ? `vec4<f32>(${
      [0, 1, 2, 3].map((q) => `bias[min(co4 * 4u + ${u32(q)}, ${u32(Cout - 1)})]`).join(", ")
    })`
    : "vec4<f32>(0.0)";
  const mDecl = tex
    ? "texture_storage_2d_array<rgba32float, read>"
    : `array<${vec ? "vec4<f32>" : "f32"}>`;
  const code = `@group(0) @binding(0) var${tex ? "" : "<storage, read>"} m: ${mDecl};
@group(0) @binding(1) var<storage, read_write> y: array<${V === 2 ? "vec2<f32>" : "f32"}>;
${bt ? flatDecl(2, "bt") : bias ? "@group(0) @binding(2) var<storage, read> bias: array<f32>;" : ""}
fn act(v: f32) -> f32 { return ${relu ? "max(v, 0.0)" : "v"}; }
${main1d(n)}
  let co4 = i % ${u32(Co4)};
  let t = i / ${u32(Co4)};
${[...Array(a * a).keys()].map((e) => `  let k${e} = ${read(e)};`).join("\n")}
${L.join("\n")}
  let bv = ${bv};
  let img = ${u32(n0)} + t / ${u32(TH * TW)};
  let oh = ((t / ${u32(TW)}) % ${u32(TH)}) * ${u32(m)};
  let ow = (t % ${u32(TW)}) * ${u32(m)};
${
    pool
      ? `  let ph = oh / 2u;
  let pw = ow / 2u;
`
      : ""
  }  ${[0, 1, 2, 3].map(store).join("")}
}`;
  const src = tex ? gpu().view(tex.tex) : mt as Tensor;
  run(code, [src, y, ...(bt ? [gpu().view(bt.tex)] : bias ? [bias] : [])], grid(n));
  if (bt) gpu().releaseTexture(bt.tex);
}

/**
 * M [α²][T][Cout] in a texture (α² matrices of T lines of Cout/4 texels) when its rows can
 * be copied straight from the buffer (Cout a multiple of 64 floats), else null.
 */
export function mTexture(m: Tensor, f: Transforms, T: number, cout: number): PlacedTexture | null {
  if (cout % 64) return null;
  const g = gpu();
  const pl = place(f.a * f.a, T, cout, { maxDim: g.maxTextureDim, maxLayers: g.maxTextureLayers });
  if (!pl) return null;
  const steps = packSteps(pl, cout, T * cout);
  if (steps.some((st) => st.kind !== "copy")) return null;
  const tex = packOperand({ buffer: m.buffer, offset: 0, size: m.bytes }, {
    size: pl.size,
    place: pl,
    steps,
  });
  return { tex, place: pl };
}
