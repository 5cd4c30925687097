/**
 * `--workers N`: the parent starts N worker processes of the same command (its own
 * arguments plus `--search-worker <version folder>`; the PostgreSQL URL, if any, goes
 * through the environment, never a command line), prints their lines prefixed `[w1] …`,
 * and forwards a stop: a SIGINT/SIGTERM it gets is written to each worker's stdin (a worker
 * killed by the terminal's Ctrl-C gets it twice: the line changes nothing), a second one
 * tells them to stop at once. A worker whose stdin closes (its parent is gone) stops as on
 * SIGTERM.
 */
import { fileURLToPath } from "node:url";
import { type Interrupt, SIGNAL_EXIT, type StopSignal } from "../interrupt.ts";
import { STORAGE_ENV } from "./flags.ts";

/** How each worker process ended: its exit code (a signal counts as 128 + its number). */
export interface ChildExit {
  worker: number;
  code: number;
  /** The last line the worker wrote to stderr (its error, when it failed). */
  last?: string;
}

/** The command line of a worker: the parent's arguments without --storage, plus the flag. */
export function workerArgs(args: readonly string[], versionDir: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === "--storage" || args[i] === "--search-worker") {
      i++;
      continue;
    }
    if (args[i].startsWith("--storage=") || args[i].startsWith("--search-worker=")) continue;
    out.push(args[i]);
  }
  return [...out, "--search-worker", versionDir];
}

async function pump(
  stream: ReadableStream<Uint8Array>,
  prefix: string,
  write: (line: string) => void,
): Promise<void> {
  let buf = "";
  try {
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      buf += chunk;
      let i;
      while ((i = buf.indexOf("\n")) >= 0) {
        write(prefix + buf.slice(0, i));
        buf = buf.slice(i + 1);
      }
    }
  } catch { /* the worker is gone */ }
  if (buf) write(prefix + buf);
}

/**
 * Starts `n` workers of this command into `versionDir` and waits for all of them; stops
 * them as the module comment says when `interrupt` is requested.
 */
export async function runWorkers(
  n: number,
  versionDir: string,
  storage: string | undefined,
  interrupt: Interrupt,
): Promise<ChildExit[]> {
  const script = fileURLToPath(Deno.mainModule);
  const args = ["run", "-A", script, ...workerArgs(Deno.args, versionDir)];
  const env: Record<string, string> = storage ? { [STORAGE_ENV]: storage } : {};
  const enc = new TextEncoder();
  const children = Array.from({ length: n }, (_, k) => {
    const child = new Deno.Command(Deno.execPath(), {
      args,
      env,
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const writer = child.stdin.getWriter();
    const prefix = `[w${k + 1}] `;
    const seen = { last: undefined as string | undefined };
    const pumped = Promise.all([
      pump(child.stdout, prefix, (l) => console.log(l)),
      pump(child.stderr, prefix, (l) => {
        seen.last = l.slice(prefix.length);
        console.error(l);
      }),
    ]);
    return { child, writer, pumped, seen };
  });
  const send = (line: string) => {
    for (const c of children) c.writer.write(enc.encode(line + "\n")).catch(() => {});
  };
  let done = false;
  interrupt.wait().then(() => {
    if (!done) send(interrupt.signal!);
  });
  const unlisten = interrupt.listen((s: StopSignal) => {
    console.error(`${s} again: telling the workers to stop now`);
    send("now");
  });
  try {
    const exits: ChildExit[] = [];
    for (const [k, c] of children.entries()) {
      const s = await c.child.status;
      await c.pumped;
      exits.push({
        worker: k + 1,
        code: s.signal ? 128 + signalNumber(s.signal) : s.code,
        last: c.seen.last,
      });
    }
    return exits;
  } finally {
    done = true;
    unlisten();
    for (const c of children) await c.writer.close().catch(() => {});
  }
}

function signalNumber(s: Deno.Signal): number {
  return ({ SIGINT: 2, SIGKILL: 9, SIGTERM: 15 } as Record<string, number>)[s] ?? 0;
}

/**
 * In a worker process: follows the parent's stdin. `SIGINT`/`SIGTERM` lines request the
 * stop, `now` exits at once, the end of the input (the parent is gone) stops as SIGTERM.
 */
export function followParent(interrupt: Interrupt): void {
  const stop = (s: StopSignal, why: string) => {
    if (interrupt.requested) return;
    console.error(`${why}: stopping after the current step and writing a checkpoint…`);
    interrupt.request(s);
  };
  (async () => {
    let buf = "";
    try {
      for await (const chunk of Deno.stdin.readable.pipeThrough(new TextDecoderStream())) {
        buf += chunk;
        let i;
        while ((i = buf.indexOf("\n")) >= 0) {
          const line = buf.slice(0, i).trim();
          buf = buf.slice(i + 1);
          if (line === "SIGINT" || line === "SIGTERM") stop(line, `${line} (from the parent)`);
          else if (line === "now") Deno.exit(SIGNAL_EXIT[interrupt.signal ?? "SIGTERM"]);
        }
      }
    } catch { /* stdin closed */ }
    stop("SIGTERM", "the parent process is gone");
  })();
}
