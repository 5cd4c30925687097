/**
 * A pool of decode workers and an order-keeping, bounded prefetch stage built on it.
 * At most `depth` jobs are in flight; the stage waits for the oldest before taking more,
 * so memory stays bounded and backpressure reaches the file source.
 */
import type { FloatImage, RawImage } from "../types.ts";
import type { DecodeRequest, DecodeResponse, Outcome, SampleWork } from "./messages.ts";

export type { Outcome, SampleWork };

/**
 * Deno's Web Worker, kept at load time: ONNX Runtime Web's threaded wasm build replaces
 * `globalThis.Worker` with Node's `worker_threads.Worker` when it loads (it takes Deno for
 * Node), and a decode worker started through that has no `self`.
 */
const WebWorker = globalThis.Worker;

/** Web Workers that decode files; reuse one across epochs and `close()` it at the end. */
export class DecodePool {
  #workers: Worker[] = [];
  #load: number[] = [];
  #pending = new Map<number, { resolve: (r: DecodeResponse) => void; worker: number }>();
  #next = 0;
  #closed = false;

  /** Start `size` workers (at least 1). */
  constructor(size: number) {
    const url = new URL("./decode_worker.ts", import.meta.url);
    for (let i = 0; i < Math.max(1, size); i++) {
      const w = new WebWorker(url, { type: "module" });
      w.onmessage = (e: MessageEvent<DecodeResponse>) => this.#settle(e.data);
      w.onerror = (e) => {
        e.preventDefault();
        this.#failWorker(i, e.message);
      };
      this.#workers.push(w);
      this.#load.push(0);
    }
  }

  /** Number of workers. */
  get size(): number {
    return this.#workers.length;
  }

  /** Decode (and process) one file on the least-busy worker. */
  decode(path: string, work: SampleWork = {}, seed = 0): Promise<Outcome<RawImage | FloatImage>> {
    if (this.#closed) return Promise.resolve({ ok: false, error: "decode pool is closed" });
    let w = 0;
    for (let i = 1; i < this.#load.length; i++) if (this.#load[i] < this.#load[w]) w = i;
    const id = this.#next++;
    this.#load[w]++;
    return new Promise((resolve) => {
      this.#pending.set(id, {
        worker: w,
        resolve: (r) =>
          resolve(r.image ? { ok: true, value: r.image } : { ok: false, error: r.error ?? "?" }),
      });
      const req: DecodeRequest = { id, path, work, seed };
      this.#workers[w].postMessage(req);
    });
  }

  #settle(r: DecodeResponse): void {
    const p = this.#pending.get(r.id);
    if (!p) return;
    this.#pending.delete(r.id);
    this.#load[p.worker]--;
    p.resolve(r);
  }

  #failWorker(worker: number, message: string): void {
    for (const [id, p] of this.#pending) {
      if (p.worker === worker) this.#settle({ id, error: `decode worker failed (${message})` });
    }
  }

  /** Stop the workers; jobs still pending resolve as failures. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const w of this.#workers) w.terminate();
    for (const id of [...this.#pending.keys()]) this.#settle({ id, error: "decode pool closed" });
  }
}

/**
 * Stage: start an async job for each chunk with up to `depth` in flight, and hand each
 * outcome, in input order, to `emit` (which may enqueue, skip or throw). `onEnd` runs once
 * when the stream finishes, fails or is cancelled.
 */
export function prefetchMap<I, O, R>(
  job: (chunk: I) => Promise<Outcome<O>>,
  depth: number,
  emit: (chunk: I, outcome: Outcome<O>, controller: TransformStreamDefaultController<R>) => void,
  onEnd: () => void = () => {},
): TransformStream<I, R> {
  const queue: [I, Promise<Outcome<O>>][] = [];
  let ended = false;
  const end = () => {
    if (!ended) {
      ended = true;
      onEnd();
    }
  };
  const settleOldest = async (controller: TransformStreamDefaultController<R>) => {
    const [c, p] = queue.shift()!;
    try {
      emit(c, await p, controller);
    } catch (e) {
      end();
      throw e;
    }
  };
  return new TransformStream<I, R>({
    async transform(chunk, controller) {
      queue.push([chunk, job(chunk)]);
      while (queue.length >= Math.max(1, depth)) await settleOldest(controller);
    },
    async flush(controller) {
      while (queue.length) await settleOldest(controller);
      end();
    },
    cancel() {
      end();
    },
  });
}
