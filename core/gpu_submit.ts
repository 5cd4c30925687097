/**
 * When the end of a step (an outermost `tidy`) submits the work recorded in it.
 *
 * - `"step"`: at every step's end, so that the GPU runs a step while the host records the
 *   next one. Real GPUs take it (`"auto"`).
 * - `"read"`: only when the host needs a result (`tensor.data()`, `gpu().sync()`), or once
 *   the pending work holds `MAX_PENDING_COMMANDS` commands or `MAX_PENDING_UPLOAD_BYTES` of
 *   uploads (their staging buffers live until the submit). Software adapters take it
 *   (`"auto"`): lavapipe runs a dispatch on a thread per core and waits for all of them, so
 *   a host recording (or decoding) alongside takes a core from every dispatch it overlaps.
 *   Measured on an AVX-512 EPYC, 2 cores: the Fashion-MNIST CNN's training step 23.9 → 18.1
 *   ms with 20 steps to a submit against one (9 of 11 alternating rounds), while a submit
 *   every 2 or 4 steps gained nothing (23.9 → 23.9, 23.8 → 23.4); `deno task pipeline
 *   fashion_mnist.ts --epochs 1` 2,449 → 2,906 images/s, with the same bits (test loss
 *   0.3745 both).
 *
 * Either way the commands run in the order recorded, so results do not depend on it.
 *
 * @module
 */

/** When a step's end submits (see the module documentation). */
export type SubmitPolicy = "auto" | "step" | "read";

let policy: SubmitPolicy = "auto";

/** Sets the policy (tests run both; `"auto"` by adapter). Returns the old one. */
export function setSubmitPolicy(p: SubmitPolicy): SubmitPolicy {
  const old = policy;
  policy = p;
  return old;
}

/** Commands (dispatches, copies, clears) a pending submission may hold at a step's end. */
export const MAX_PENDING_COMMANDS = 8192;

/** Bytes of uploads a pending submission may hold at a step's end (256 MiB). */
export const MAX_PENDING_UPLOAD_BYTES = 256 * 2 ** 20;

/** Whether a step's end submits, given the adapter and what the pending submission holds. */
export function submitAtStepEnd(
  variant: "cpu" | "gpu",
  commands: number,
  uploadBytes: number,
): boolean {
  const each = policy === "step" || (policy === "auto" && variant === "gpu");
  return each || commands >= MAX_PENDING_COMMANDS || uploadBytes >= MAX_PENDING_UPLOAD_BYTES;
}
