/**
 * The observer interface of the GPU layer's command stream (`Gpu.setHook`): what the
 * profiler (`core/profile.ts`) sees of every dispatch, copy and submit. Types only.
 *
 * @module
 */

/** One dispatch as the engine records it (what a `DispatchHook` sees). */
export interface RecordedDispatch {
  /** The WGSL source (the pipeline cache's key). */
  code: string;
  /** Its compiled pipeline. */
  pipeline: GPUComputePipeline;
  /** The bind group made for this dispatch. */
  bindGroup: GPUBindGroup;
  /** Workgroup counts. */
  workgroups: [number, number, number];
}

/**
 * Observes the command stream (profiling): installed with `Gpu.setHook`, it sees every
 * dispatch, copy and clear as it is recorded and every encoder before it is submitted.
 * When no hook is installed the recording path pays one null check per command.
 */
export interface DispatchHook {
  /**
   * Called for each dispatch before it is recorded. Returning timestamp writes records the
   * dispatch in a compute pass of its own that writes them (its begin and end).
   */
  dispatch(d: RecordedDispatch): GPUComputePassTimestampWrites | undefined;
  /** Called for each copy or clear command as it is recorded. */
  command(kind: "copy" | "copyToTexture" | "clear"): void;
  /** Called with the encoder just before it is finished and submitted. */
  beforeSubmit(encoder: GPUCommandEncoder): void;
}
