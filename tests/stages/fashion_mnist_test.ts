import { assertEquals, assertRejects, collect } from "./_helpers.ts";
import {
  FASHION_MNIST_DIR,
  fashionMnistSource,
  readFashionMnist,
} from "../../stages/fashion_mnist.ts";
import { DataError } from "../../stages/types.ts";
import { tempDirSync } from "../_temp.ts";

async function gz(bytes: Uint8Array<ArrayBuffer>): Promise<Uint8Array> {
  const s = ReadableStream.from<BufferSource>([bytes]).pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(s).arrayBuffer());
}

/** Write a tiny Fashion-MNIST-shaped split: 3 images of 2×2 with labels 7, 0, 9. */
async function tinySplit(): Promise<string> {
  const dir = tempDirSync();
  const img = new Uint8Array([
    0,
    0,
    8,
    3,
    0,
    0,
    0,
    3,
    0,
    0,
    0,
    2,
    0,
    0,
    0,
    2,
    ...Array.from({ length: 12 }, (_, i) => i * 20),
  ]);
  const lbl = new Uint8Array([0, 0, 8, 1, 0, 0, 0, 3, 7, 0, 9]);
  Deno.writeFileSync(`${dir}/t10k-images-idx3-ubyte.gz`, await gz(img));
  Deno.writeFileSync(`${dir}/t10k-labels-idx1-ubyte.gz`, await gz(lbl));
  return dir;
}

Deno.test("fashion-mnist: reads gzipped idx files and streams 1-channel samples", async () => {
  const dir = await tinySplit();
  const data = await readFashionMnist("t10k", dir);
  assertEquals([data.count, data.rows, data.cols], [3, 2, 2]);
  const samples = await collect(fashionMnistSource(data));
  assertEquals(samples.map((s) => s.label), [7, 0, 9]);
  assertEquals(Array.from(samples[1].image.data), [80, 100, 120, 140]);
  assertEquals(samples[1].image.channels, 1);
  const shuffled = await collect(fashionMnistSource(data, { seed: 1, epoch: 0 }));
  assertEquals(shuffled.map((s) => s.label).sort(), [0, 7, 9]);
  Deno.removeSync(dir, { recursive: true });
});

Deno.test("fashion-mnist: missing or bad files fail naming the file", async () => {
  await assertRejects(
    () => readFashionMnist("train", "/nonexistent"),
    (e: Error) =>
      e instanceof DataError && e.message.includes("/nonexistent/train-images-idx3-ubyte.gz"),
  );
  const dir = tempDirSync();
  Deno.writeFileSync(`${dir}/train-images-idx3-ubyte.gz`, new TextEncoder().encode("nope"));
  await assertRejects(() => readFashionMnist("train", dir), DataError);
  Deno.removeSync(dir, { recursive: true });
});

const hasDebianData = (() => {
  try {
    return Deno.statSync(`${FASHION_MNIST_DIR}/t10k-images-idx3-ubyte.gz`).isFile;
  } catch {
    return false;
  }
})();

Deno.test({
  name: "fashion-mnist: Debian's test split has 10,000 28×28 images, first is an ankle boot",
  ignore: !hasDebianData,
  async fn() {
    const data = await readFashionMnist("t10k");
    assertEquals([data.count, data.rows, data.cols], [10000, 28, 28]);
    assertEquals(data.labels[0], 9);
    const counts = new Array(10).fill(0);
    for (const l of data.labels) counts[l]++;
    assertEquals(counts, new Array(10).fill(1000));
  },
});
