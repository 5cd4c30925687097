/**
 * `deno task bench`: every benchmark, each beside its peers in the same run with the ratio
 * (these machines are noisy; absolute figures drift, ratios hold). Pass names to run a
 * subset: `deno task bench matmul mlp`. Flags (bench/util.ts `parseFlags`):
 *
 * - `--json`: stdout carries one JSON line per benchmark (its figures and ratios); the
 *   human-readable report goes to stderr.
 * - `--profile[=replay|timestamp]`: `cnn` also prints, per network, the time of each kernel
 *   family in a training step and the dispatches per step (core/profile.ts).
 * - `--quick`: fewer steps and rounds, no TensorFlow.js peer (a smoke test of the path).
 * - `--no-tfjs`, `--no-torch`: skip a peer; `--torch-device=cuda`: PyTorch on the GPU.
 */
import { initGpu } from "../core/gpu.ts";
import { flags } from "./util.ts";

type Bench = () => Promise<Record<string, unknown> | void>;

const all: Record<string, Bench> = {
  matmul: async () => (await import("./matmul.ts")).benchMatmul(),
  mlp: async () => (await import("./mlp.ts")).benchMlp(),
  cnn: async () => (await import("./cnn.ts")).benchCnn(),
  conv: async () => (await import("./conv.ts")).benchConv(),
  data: async () => (await import("./data.ts")).benchData(),
  vgg: async () => (await import("./vgg.ts")).benchVgg(),
};

/** The 1-minute load average (Linux), to judge how quiet the machine was. */
function load(): number | null {
  try {
    return Number(Deno.readTextFileSync("/proc/loadavg").split(" ")[0]);
  } catch {
    return null;
  }
}

const pick = flags.names.length ? flags.names : Object.keys(all);
for (const name of pick) {
  if (!all[name]) {
    console.error(`unknown benchmark ${name}; have: ${Object.keys(all).join(", ")}`);
    Deno.exit(2);
  }
}
const out = console.log;
if (flags.json) console.log = console.error;
const g = await initGpu();
console.log(`adapter: ${g.info.description} (${g.variant} kernels)`);
const adapter = { description: g.info.description, vendor: g.info.vendor, variant: g.variant };
for (const name of pick) {
  const load0 = load();
  console.log(`\n== ${name} == (load average ${load0 ?? "?"})`);
  const t0 = performance.now();
  try {
    const r = await all[name]();
    const load1 = load();
    console.log(`(${name}: load average ${load0 ?? "?"} → ${load1 ?? "?"})`);
    if (flags.json) {
      out(JSON.stringify({
        bench: name,
        ...r,
        adapter,
        cores: navigator.hardwareConcurrency,
        loadAverage: [load0, load1],
        seconds: (performance.now() - t0) / 1000,
      }));
    }
  } catch (e) {
    console.log(`${name}: failed: ${(e as Error).message}`);
    if (flags.json) out(JSON.stringify({ bench: name, error: (e as Error).message, adapter }));
  }
}
