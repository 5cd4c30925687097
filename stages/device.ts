/**
 * The hand-off from the data stages to the engine: uploads each NCHW batch to the GPU
 * once (one writeBuffer of the batch's own Float32Array, no extra copy) together with its
 * labels as float32 class indices.
 */
import { fromArray, type Tensor } from "../core/tensor.ts";
import type { Batch } from "./types.ts";

/** A batch whose images and labels live on the GPU. */
export interface DeviceBatch {
  /** The images, [N, C, H, W]. */
  x: Tensor;
  /** The labels as float32 class indices, [N]. */
  y: Tensor;
  /** The labels on the CPU (the batch's own array). */
  labels: Int32Array;
  /** One source file per image, in batch order. */
  paths: string[];
  /** Images in the batch (N). */
  n: number;
}

/** Uploads one batch (the caller owns and disposes the tensors). */
export function toDeviceBatch(b: Batch): DeviceBatch {
  const n = b.shape[0];
  const x = fromArray(b.x, b.shape).keep();
  const y = fromArray(Float32Array.from(b.labels), [n]).keep();
  return { x, y, labels: b.labels, paths: b.paths, n };
}

/** Releases a device batch's tensors. */
export function disposeDeviceBatch(b: DeviceBatch): void {
  b.x.dispose();
  b.y.dispose();
}

/** A stage uploading batches to the GPU. */
export function toDevice(): TransformStream<Batch, DeviceBatch> {
  return new TransformStream({ transform: (b, c) => c.enqueue(toDeviceBatch(b)) });
}
