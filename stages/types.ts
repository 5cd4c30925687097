/**
 * The records that travel between the data stages.
 *
 * Images start as 8-bit interleaved pixels (`RawImage`, HWC) straight from the decoder,
 * and become planar float tensors (`FloatImage`, CHW) in the normalize stage.
 */

/** 8-bit interleaved pixels: `data[(y * width + x) * channels + c]`. */
export interface RawImage {
  width: number;
  height: number;
  /** 1 (grey), 2 (grey + alpha), 3 (RGB) or 4 (RGBA). */
  channels: number;
  data: Uint8Array;
}

/** Planar float pixels, `data[(c * height + y) * width + x]`, with the normalization applied. */
export interface FloatImage {
  channels: number;
  height: number;
  width: number;
  data: Float32Array;
  /** Per-channel mean that was subtracted (in [0, 1] units). */
  mean: number[];
  /** Per-channel standard deviation that was divided by. */
  std: number[];
}

/** One file of a data set before decoding; `label` is -1 when unlabelled. */
export interface FileEntry {
  path: string;
  label: number;
}

/** One decoded example. */
export interface Sample<I extends RawImage | FloatImage = RawImage | FloatImage> {
  image: I;
  label: number;
  path: string;
}

/** A sample whose image has been normalized to a planar float tensor. */
export type FloatSample = Sample<FloatImage>;

/** NCHW float32 batch with its labels and source paths. */
export interface Batch {
  x: Float32Array;
  shape: [number, number, number, number];
  labels: Int32Array;
  paths: string[];
}

/** A file that could not be used, and why. */
export interface SkippedFile {
  path: string;
  reason: string;
}

/** Running counts a pipeline reports at the end of a run. */
export interface DataReport {
  decoded: number;
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
