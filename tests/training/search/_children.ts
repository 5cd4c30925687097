/**
 * Child worker processes for the study tests (`_worker.ts`): several run to the end at
 * once, or one claims a trial and hangs until it is SIGKILLed. Nothing here waits on a
 * fixed time: a hanging worker is awaited by its `claimed` line (with a generous deadline).
 */
import { fileURLToPath } from "node:url";
import { assert } from "../../assert.ts";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const WORKER = fileURLToPath(new URL("./_worker.ts", import.meta.url));

function command(args: string[], env: Record<string, string>, stdout: "piped") {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-q", "-A", WORKER, ...args],
    cwd: ROOT,
    env,
    stdout,
    stderr: "piped",
  });
}

/**
 * Runs one `run` worker per name at once on `store`/`study` and waits for all; fails when
 * one fails. Returns each worker's `done <number> <attempt>` lines as [number, attempt].
 */
export async function runWorkers(
  store: string,
  study: string,
  workers: string[],
  env: Record<string, string> = {},
  limit?: number,
): Promise<[number, number][][]> {
  const outs = await Promise.all(
    workers.map((w) =>
      command(["run", store, study, w, ...(limit ? [String(limit)] : [])], env, "piped").output()
    ),
  );
  const dec = new TextDecoder();
  return outs.map((o, k) => {
    assert(o.success, `worker ${workers[k]} failed: ${dec.decode(o.stderr)}`);
    return dec.decode(o.stdout).split("\n").filter((l) => l.startsWith("done ")).map((l) => {
      const [, n, a] = l.split(" ");
      return [Number(n), Number(a)] as [number, number];
    });
  });
}

/** A child that claimed a trial and hangs without heart-beating. */
export interface HangingWorker {
  number: number;
  attempt: number;
  pid: number;
  /** SIGKILLs it and waits until it is gone. */
  kill(): Promise<void>;
}

/** Starts a `hang` worker and waits (up to 120 s) for the trial it claimed. */
export async function hangWorker(
  store: string,
  study: string,
  worker: string,
  env: Record<string, string> = {},
): Promise<HangingWorker> {
  const child = command(["hang", store, study, worker], env, "piped").spawn();
  const stderr = new Response(child.stderr).text();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const kill = async () => {
    try {
      child.kill("SIGKILL");
    } catch { /* already gone */ }
    await child.status;
    await reader.cancel().catch(() => {});
    await stderr.catch(() => "");
  };
  let text = "";
  const deadline = setTimeout(() => kill(), 120_000);
  try {
    while (!text.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) break;
      text += value;
    }
  } finally {
    clearTimeout(deadline);
  }
  const m = /^claimed (\d+) (\d+)$/m.exec(text);
  if (!m) {
    await kill();
    throw new Error(`the hanging worker claimed nothing: ${text} ${await stderr}`);
  }
  return { number: Number(m[1]), attempt: Number(m[2]), pid: child.pid, kill };
}
