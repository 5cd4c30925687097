/** Shared helpers of the benchmarks. */

/** The median of a list of numbers. */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/**
 * Runs a peer benchmark script in a child Deno process (its own WebGPU device, so the two
 * do not interfere) and returns the `imagesPerSec` (or `gflops`) of the JSON line it
 * prints last, or null when it fails.
 */
export async function peer(script: string, args: string[]): Promise<number | null> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", script, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout).trim().split("\n").pop() ?? "";
  try {
    const r = JSON.parse(text);
    return r.imagesPerSec ?? r.gflops ?? null;
  } catch {
    console.error(`peer ${script} ${args.join(" ")} failed:`);
    console.error(new TextDecoder().decode(out.stderr).split("\n").slice(-5).join("\n"));
    return null;
  }
}

/** Flags every benchmark understands (read from `Deno.args`, names taken out). */
export interface BenchFlags {
  /** `--json`: stdout carries one JSON line per benchmark; the report goes to stderr. */
  json: boolean;
  /** `--profile` (timestamps when offered, else replay) or `--profile=replay|timestamp`. */
  profile: false | "auto" | "replay" | "timestamp";
  /** `--quick`: fewer steps and rounds (a smoke test of the whole path). */
  quick: boolean;
  /** `--no-tfjs`: skip the TensorFlow.js peer (slow on the software adapter). */
  tfjs: boolean;
  /** `--no-torch`: skip the PyTorch peer. */
  torch: boolean;
  /** `--torch-device=cuda`: the PyTorch peer's device (default cpu). */
  torchDevice: string;
  /** The arguments that are not flags (benchmark names). */
  names: string[];
}

/** Parses the benchmark flags out of `args`. */
export function parseFlags(args: readonly string[]): BenchFlags {
  const f: BenchFlags = {
    json: false,
    profile: false,
    quick: false,
    tfjs: true,
    torch: true,
    torchDevice: "cpu",
    names: [],
  };
  for (const a of args) {
    if (a === "--json") f.json = true;
    else if (a === "--profile") f.profile = "auto";
    else if (a.startsWith("--profile=")) {
      const m = a.slice(10);
      if (m !== "replay" && m !== "timestamp" && m !== "auto") {
        throw new Error(`--profile=${m}: use replay, timestamp or auto`);
      }
      f.profile = m;
    } else if (a === "--quick") f.quick = true;
    else if (a === "--no-tfjs") f.tfjs = false;
    else if (a === "--no-torch") f.torch = false;
    else if (a.startsWith("--torch-device=")) f.torchDevice = a.slice(15);
    else if (!a.startsWith("--")) f.names.push(a);
  }
  return f;
}

/** The flags of this process (`deno task bench cnn --profile --json`). */
export const flags: BenchFlags = parseFlags(Deno.args);

/** One PyTorch peer result (a line of bench/peers/torch_bench.py), or why there is none. */
export type TorchResult = Record<string, unknown> & { imagesPerSec?: number; error?: string };

/**
 * Runs bench/peers/torch_bench.py (Debian's python3-torch, or whatever `python3` has torch)
 * for `benches` in the same run, threads = this machine's cores, and returns its JSON lines
 * by bench name ("fashion-cnn", "scene-cnn", "vgg16-features", "matmul"). A missing torch
 * or a failed run gives entries with `error`.
 */
export async function torchPeer(
  benches: string[],
  extra: string[] = [],
): Promise<Record<string, TorchResult>> {
  const script = new URL("./peers/torch_bench.py", import.meta.url).pathname;
  const args = [script, ...benches, "--threads", String(navigator.hardwareConcurrency), ...extra];
  if (flags.quick) args.push("--quick");
  if (flags.torchDevice !== "cpu") args.push("--device", flags.torchDevice);
  const names: Record<string, string> = {
    fashion: "fashion-cnn",
    scene: "scene-cnn",
    vgg: "vgg16-features",
    matmul: "matmul",
  };
  let why = "python3 with torch not found (apt-get install -y python3-torch)";
  for (const exe of ["/usr/bin/python3", "python3"]) {
    try {
      const r = await new Deno.Command(exe, { args, stdout: "piped", stderr: "piped" }).output();
      const lines = new TextDecoder().decode(r.stdout).trim().split("\n").filter(Boolean);
      const out: Record<string, TorchResult> = {};
      for (const l of lines) {
        const j = JSON.parse(l) as TorchResult;
        if (j.error && !j.bench) {
          why = String(j.error);
          break;
        }
        out[String(j.bench)] = j;
      }
      if (Object.keys(out).length) return out;
      if (!r.success) why = new TextDecoder().decode(r.stderr).trim().split("\n").pop() ?? why;
    } catch {
      // try the next interpreter
    }
  }
  return Object.fromEntries(benches.map((b) => [names[b] ?? b, { error: why }]));
}

/** "0.42×" (ours / peer), or "-" when the peer has no figure. */
export function ratio(ours: number, peer: number | null | undefined): string {
  return peer ? `${(ours / peer).toFixed(2)}×` : "-";
}
