/**
 * `deno task bench`: every benchmark, each beside its peer in the same run with the ratio
 * (these machines are noisy; absolute figures drift, ratios hold). Pass names to run a
 * subset: `deno task bench matmul mlp`.
 */
import { initGpu } from "../core/gpu.ts";

const all: Record<string, () => Promise<void>> = {
  matmul: async () => (await import("./matmul.ts")).benchMatmul(),
  mlp: async () => (await import("./mlp.ts")).benchMlp(),
  cnn: async () => (await import("./cnn.ts")).benchCnn(),
  conv: async () => (await import("./conv.ts")).benchConv(),
  data: async () => (await import("./data.ts")).benchData(),
  vgg: async () => (await import("./vgg.ts")).benchVgg(),
};

const pick = Deno.args.length ? Deno.args : Object.keys(all);
const g = await initGpu();
console.log(`adapter: ${g.info.description} (${g.variant} kernels)`);
for (const name of pick) {
  const run = all[name];
  if (!run) {
    console.error(`unknown benchmark ${name}; have: ${Object.keys(all).join(", ")}`);
    Deno.exit(2);
  }
  console.log(`\n== ${name} ==`);
  try {
    await run();
  } catch (e) {
    console.log(`${name}: failed: ${(e as Error).message}`);
  }
}
