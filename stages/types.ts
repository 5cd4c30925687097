/**
 * The records that travel between the data stages.
 *
 * Images start as 8-bit interleaved pixels (`RawImage`, HWC) straight from the decoder,
 * and become planar float tensors (`FloatImage`, CHW) in the normalize stage.
 */

/** 8-bit interleaved pixels: `data[(y * width + x) * channels + c]`. */
export interface RawImage {
  /** Pixels per row. */
  width: number;
  /** Rows. */
  height: number;
  /** 1 (grey), 2 (grey + alpha), 3 (RGB) or 4 (RGBA). */
  channels: number;
  /** height × width × channels bytes, row-major, channels interleaved. */
  data: Uint8Array;
}

/** Planar float pixels, `data[(c * height + y) * width + x]`, with the normalization applied. */
export interface FloatImage {
  /** Number of planes (1 grey, 3 RGB, …). */
  channels: number;
  /** Rows per plane. */
  height: number;
  /** Pixels per row. */
  width: number;
  /** channels × height × width values, plane after plane. */
  data: Float32Array;
  /** Per-channel mean that was subtracted (in [0, 1] units). */
  mean: number[];
  /** Per-channel standard deviation that was divided by. */
  std: number[];
}

/** One file of a data set before decoding; `label` is -1 when unlabelled. */
export interface FileEntry {
  /** The file's path. */
  path: string;
  /** Class index (into the data set's sorted class names), or -1 when unlabelled. */
  label: number;
}

/** One decoded example. */
export interface Sample<I extends RawImage | FloatImage = RawImage | FloatImage> {
  /** The pixels: `RawImage` after decoding, `FloatImage` after normalizing. */
  image: I;
  /** Class index, or -1 when unlabelled. */
  label: number;
  /** The file it was decoded from. */
  path: string;
}

/** A sample whose image has been normalized to a planar float tensor. */
export type FloatSample = Sample<FloatImage>;

/** NCHW float32 batch with its labels and source paths. */
export interface Batch {
  /** The images: N × C × H × W floats, row-major (`[((n * C + c) * H + y) * W + col]`). */
  x: Float32Array;
  /** [N, C, H, W]; N is the batch size, smaller in a last partial batch. */
  shape: [number, number, number, number];
  /** One class index per image (-1 when unlabelled). */
  labels: Int32Array;
  /** One source file per image, in batch order. */
  paths: string[];
}

/** A file that could not be used, and why. */
export interface SkippedFile {
  /** The file's path. */
  path: string;
  /** Why it was left out (e.g. "not an image file type", or the decoder's error). */
  reason: string;
}

/** Running counts a pipeline reports at the end of a run. */
export interface DataReport {
  /** Files decoded successfully so far. */
  decoded: number;
  /** Files skipped so far (unreadable or undecodable), with the reason. */
  skipped: SkippedFile[];
}

/** A fresh, empty report. */
export function newReport(): DataReport {
  return { decoded: 0, skipped: [] };
}

/** Raised for data problems that must stop a run before training (names the folder or file). */
export class DataError extends Error {
  /** Make a data error with a message naming the folder or file. */
  constructor(message: string) {
    super(message);
    this.name = "DataError";
  }
}
