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
