/**
 * Fashion-MNIST source: reads the gzipped idx files (Debian's `dataset-fashion-mnist` puts
 * them under /usr/share/datasets/fashion-mnist) and streams 28×28 grey samples.
 */
import { join } from "node:path";
import { permutation } from "./shuffle.ts";
import { DataError, type Sample } from "./types.ts";

/** Where Debian's dataset-fashion-mnist package installs the files. */
export const FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist";

/** Fashion-MNIST's ten class names, in label order. */
export const FASHION_MNIST_CLASSES = [
  "T-shirt/top",
  "Trouser",
  "Pullover",
  "Dress",
  "Coat",
  "Sandal",
  "Shirt",
  "Sneaker",
  "Bag",
  "Ankle boot",
];

/** One split in memory: `count` images of rows×cols bytes, and their labels. */
export interface IdxImages {
  images: Uint8Array;
  labels: Uint8Array;
  count: number;
  rows: number;
  cols: number;
  file: string;
}

async function gunzip(path: string): Promise<Uint8Array> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path);
  } catch (e) {
    throw new DataError(`cannot open ${path}: ${(e as Error).message}`);
  }
  const stream = file.readable.pipeThrough(new DecompressionStream("gzip"));
  try {
    return new Uint8Array(await new Response(stream).arrayBuffer());
  } catch (e) {
    throw new DataError(`${path} is not a readable gzip file: ${(e as Error).message}`);
  }
}

/** Parse an idx file (magic 0x0000080N: unsigned bytes, N dimensions). */
export function parseIdx(bytes: Uint8Array, path: string): { dims: number[]; data: Uint8Array } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 8 || view.getUint16(0) !== 0 || bytes[2] !== 0x08) {
    throw new DataError(`${path} is not an unsigned-byte idx file`);
  }
  const nd = bytes[3];
  const dims = Array.from({ length: nd }, (_, i) => view.getUint32(4 + 4 * i));
  const size = dims.reduce((a, b) => a * b, 1);
  const start = 4 + 4 * nd;
  if (bytes.length < start + size) throw new DataError(`${path} is truncated`);
  return { dims, data: bytes.subarray(start, start + size) };
}

/** Read one split ("train" or "t10k") of Fashion-MNIST from `dir`. */
export async function readFashionMnist(
  split: "train" | "t10k",
  dir = FASHION_MNIST_DIR,
): Promise<IdxImages> {
  const imgPath = join(dir, `${split}-images-idx3-ubyte.gz`);
  const lblPath = join(dir, `${split}-labels-idx1-ubyte.gz`);
  const img = parseIdx(await gunzip(imgPath), imgPath);
  const lbl = parseIdx(await gunzip(lblPath), lblPath);
  if (img.dims.length !== 3 || lbl.dims.length !== 1 || img.dims[0] !== lbl.dims[0]) {
    throw new DataError(`${imgPath} and ${lblPath} do not match (${img.dims} vs ${lbl.dims})`);
  }
  return {
    images: img.data,
    labels: lbl.data,
    count: img.dims[0],
    rows: img.dims[1],
    cols: img.dims[2],
    file: imgPath,
  };
}

/** Source: stream Fashion-MNIST samples (1-channel raw images), shuffled per epoch when seeded. */
export function fashionMnistSource(
  data: IdxImages,
  options: { seed?: number; epoch?: number } = {},
): ReadableStream<Sample> {
  const order = options.seed === undefined
    ? null
    : permutation(data.count, options.seed, options.epoch ?? 0);
  const size = data.rows * data.cols;
  let i = 0;
  return new ReadableStream<Sample>({
    pull(controller) {
      if (i >= data.count) return controller.close();
      const k = order ? order[i] : i;
      i++;
      controller.enqueue({
        image: {
          width: data.cols,
          height: data.rows,
          channels: 1,
          data: data.images.slice(k * size, (k + 1) * size),
        },
        label: data.labels[k],
        path: `${data.file}#${k}`,
      });
    },
  }, { highWaterMark: 0 });
}
