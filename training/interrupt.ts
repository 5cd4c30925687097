/**
 * SIGINT and SIGTERM during training: the first one asks the run to stop after the current
 * step, write a checkpoint and exit 130 (SIGINT) or 143 (SIGTERM) with the command that
 * resumes it; a second one stops at once (the last checkpoint on disk still resumes).
 */

/** A handled signal's name. */
export type StopSignal = "SIGINT" | "SIGTERM";

/** The exit code of each handled signal. */
export const SIGNAL_EXIT: Readonly<Record<StopSignal, number>> = { SIGINT: 130, SIGTERM: 143 };

/** The run stopped on a signal after writing its checkpoint. */
export class InterruptedError extends Error {
  /** Always "InterruptedError". */
  override name = "InterruptedError";
  /** `signal`: the signal that stopped the run; `what`: the message (run, where, checkpoint). */
  constructor(readonly signal: StopSignal, what: string) {
    super(what);
  }
  /** 130 or 143. */
  get exitCode(): number {
    return SIGNAL_EXIT[this.signal];
  }
}

/** A stop request shared by the grid loop, `fit` and the train step. */
export class Interrupt {
  #signal: StopSignal | undefined;
  #waiters: (() => void)[] = [];

  /** The signal received, if any. */
  get signal(): StopSignal | undefined {
    return this.#signal;
  }

  /** Whether a stop was asked for. */
  get requested(): boolean {
    return this.#signal !== undefined;
  }

  /** Asks for a stop (what a signal handler calls). */
  request(signal: StopSignal): void {
    this.#signal ??= signal;
    for (const w of this.#waiters.splice(0)) w();
  }

  /** Resolves once a stop is asked for. */
  wait(): Promise<void> {
    if (this.requested) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /**
   * Installs the SIGINT and SIGTERM handlers (first signal: `request`; second: `onSecond`,
   * which by default exits at once). Returns the function that removes them.
   */
  listen(onSecond?: (s: StopSignal) => void): () => void {
    const handlers = (Object.keys(SIGNAL_EXIT) as StopSignal[]).map((s) => {
      const h = () => {
        if (!this.requested) {
          console.error(`\n${s}: stopping after the current step and writing a checkpoint…`);
          this.request(s);
        } else if (onSecond) onSecond(s);
        else {
          console.error(`${s} again: stopping now; the last checkpoint on disk still resumes`);
          Deno.exit(SIGNAL_EXIT[s]);
        }
      };
      Deno.addSignalListener(s, h);
      return [s, h] as const;
    });
    return () => {
      for (const [s, h] of handlers) Deno.removeSignalListener(s, h);
    };
  }
}
