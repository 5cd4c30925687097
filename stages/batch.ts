/**
 * Batch stage: normalized samples in, NCHW float32 batches out, with labels and paths.
 * Each sample is copied once, straight into the batch's buffer, which is what the GPU
 * upload takes as it is (one `writeBuffer` of `x`).
 */
import type { Batch, FloatImage, Sample } from "./types.ts";

/** Options for the batch stage. */
export interface BatchOptions {
  /** Samples per batch. */
  size: number;
  /** Drop the last batch when it is not full (default false: keep it). */
  dropLast?: boolean;
}

/** Stage: group samples into batches (see the module comment). */
export function batch(options: BatchOptions): TransformStream<Sample, Batch> {
  const size = options.size;
  if (!(size >= 1)) throw new Error(`batch: size must be at least 1, got ${size}`);
  let x: Float32Array | null = null;
  let shape: [number, number, number] = [0, 0, 0];
  let labels = new Int32Array(size);
  let paths: string[] = [];
  let n = 0;
  const emit = (controller: TransformStreamDefaultController<Batch>) => {
    const per = shape[0] * shape[1] * shape[2];
    const full = n === size;
    controller.enqueue({
      x: full ? x! : x!.slice(0, n * per),
      shape: [n, shape[0], shape[1], shape[2]],
      labels: full ? labels : labels.slice(0, n),
      paths,
    });
    x = null;
    labels = new Int32Array(size);
    paths = [];
    n = 0;
  };
  return new TransformStream({
    transform(sample, controller) {
      if (!(sample.image.data instanceof Float32Array)) {
        throw new Error(`batch: ${sample.path} is not normalized; put normalize before batch`);
      }
      const img = sample.image as FloatImage;
      if (x === null) {
        if (n === 0 && paths.length === 0 && shape[0] === 0) {
          shape = [img.channels, img.height, img.width];
        }
        x = new Float32Array(size * shape[0] * shape[1] * shape[2]);
      }
      if (img.channels !== shape[0] || img.height !== shape[1] || img.width !== shape[2]) {
        throw new Error(
          `batch: ${sample.path} is ${img.channels}×${img.height}×${img.width}, ` +
            `the batch is ${shape.join("×")}; resize every image to one size first`,
        );
      }
      x.set(img.data, n * img.data.length);
      labels[n] = sample.label;
      paths.push(sample.path);
      n++;
      if (n === size) emit(controller);
    },
    flush(controller) {
      if (n > 0 && !options.dropLast) emit(controller);
    },
  });
}
