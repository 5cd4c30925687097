/**
 * The errors that decide a command's exit code: `UsageError` for bad flags or bad input
 * (exit 2, one line, before any GPU work) and `TrainingError` for a training that failed
 * (exit 1, e.g. a diverging loss).
 */

/** Bad flags or bad input: exit code 2. */
export class UsageError extends Error {
  /** Always "UsageError". */
  override name = "UsageError";
  /** Builds the error from its message (line breaks folded into spaces: one line). */
  constructor(message: string) {
    super(message.replace(/\s*\n\s*/g, " "));
  }
}

/** Training failed (for example a diverging loss): exit code 1. */
export class TrainingError extends Error {
  /** Always "TrainingError". */
  override name = "TrainingError";
}

/**
 * A run ended by a full disk (exit code 1): `reason` names the file it could not write,
 * `resume` is the command that continues the run once there is space.
 */
export class NoSpaceError extends TrainingError {
  /** Always "NoSpaceError". */
  override name = "NoSpaceError";
  /** Builds the error; its message is the reason and the resume command on a second line. */
  constructor(readonly reason: string, readonly resume: string, options?: ErrorOptions) {
    super(`${reason}\nresume with: ${resume}`, options);
  }
}

/**
 * A study's worker process stopped by a full disk: exit code 75 (`WORKER_NO_SPACE_EXIT`, as
 * sysexits' EX_TEMPFAIL), which only its parent sees; the parent ends the invocation with a
 * `NoSpaceError` (exit 1) naming the file and the command that resumes the study.
 */
export class WorkerNoSpaceError extends TrainingError {
  /** Always "WorkerNoSpaceError". */
  override name = "WorkerNoSpaceError";
  /** 75. */
  readonly exitCode = WORKER_NO_SPACE_EXIT;
}

/** The exit code of a worker process stopped by a full disk (see `WorkerNoSpaceError`). */
export const WORKER_NO_SPACE_EXIT = 75;
