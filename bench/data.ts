/**
 * Data benchmark: images/s of load → resize → normalize → augment → batch on 150×150 and
 * 640×480 JPEGs, side by side in the same run with Pillow + torchvision transforms doing
 * the same work (decode, bilinear resize to 150×150, horizontal flip, ±10° bilinear
 * rotation, colour jitter 0.2/0.2/0.2, to-tensor + ImageNet normalize, batches of 32) in a
 * python3 subprocess, when Debian's python3-pil and python3-torchvision are present.
 * Run alone with `deno run -A bench/data.ts`.
 */
import encodeJpeg from "@jsquash/jpeg/encode.js";
import process from "node:process";
import { imageBatches } from "../stages/images.ts";
import type { FileEntry } from "../stages/types.ts";
import { DecodePool } from "../stages/workers/prefetch.ts";

const SIZES: [number, number, number][] = [[150, 150, 320], [640, 480, 96]]; // w, h, images
const DISTINCT = 16;
const AUG = { hflip: 0.5, rotate: 10, jitter: { brightness: 0.2, contrast: 0.2, saturation: 0.2 } };

/** Write DISTINCT synthetic photos of w×h as JPEG (quality 90); returns their paths. */
async function makeJpegs(dir: string, w: number, h: number): Promise<string[]> {
  const paths: string[] = [];
  for (let k = 0; k < DISTINCT; k++) {
    const data = new Uint8ClampedArray(w * h * 4);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const i = (y * w + x) * 4;
        const n = Math.sin(x * 0.07 * (k + 1)) * Math.cos(y * 0.05) * 60;
        data[i] = 90 + n + ((x * 255) / w) * 0.4 + ((x * y * 31 + k) % 17);
        data[i + 1] = 110 + n * 0.5 + ((y * 255) / h) * 0.3 + ((x * 7 + y * 13) % 23);
        data[i + 2] = 60 + ((x + y + k * 9) % 40) + n * 0.3;
        data[i + 3] = 255;
      }
    }
    const img = { width: w, height: h, data, colorSpace: "srgb" } as unknown as ImageData;
    const bytes = new Uint8Array(await encodeJpeg(img, { quality: 90 }));
    const p = `${dir}/${w}x${h}_${k}.jpg`;
    await Deno.writeFile(p, bytes);
    paths.push(p);
  }
  return paths;
}

interface Figure {
  wall: number; // images per second of wall time
  cpu: number; // images per CPU-second of the whole process
}

async function runDeno(files: FileEntry[], workers: number): Promise<Figure> {
  // One pool for all epochs, as a training run keeps it.
  const pool = workers > 0 ? new DecodePool(workers) : undefined;
  const go = async (epoch: number) => {
    let n = 0;
    const opts = { seed: 1, epoch, batchSize: 32, augment: AUG, workers, pool };
    for await (const b of imageBatches(files, opts)) n += b.shape[0];
    return n;
  };
  try {
    await go(0); // warm-up: worker start, wasm compile, JIT
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const n = await go(1);
    const wall = (performance.now() - t0) / 1000;
    const c = process.cpuUsage(c0);
    return { wall: n / wall, cpu: n / ((c.user + c.system) / 1e6) };
  } finally {
    pool?.close();
  }
}

const PY = `
import io, json, sys, time
try:
    import torch
    from PIL import Image
    import torchvision.transforms as T
except Exception as e:
    print(json.dumps({"error": str(e)})); sys.exit(0)
torch.set_num_threads(1)
tf = T.Compose([T.RandomHorizontalFlip(), T.RandomRotation(10, T.InterpolationMode.BILINEAR),
    T.ColorJitter(0.2, 0.2, 0.2), T.ToTensor(),
    T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
def run(paths):
    xs, n = [], 0
    for p in paths:
        im = Image.open(p).convert("RGB").resize((150, 150), Image.BILINEAR)
        xs.append(tf(im))
        if len(xs) == 32:
            b = torch.stack(xs); n += len(xs); xs = []
    if xs: b = torch.stack(xs); n += len(xs)
    return n
out = {"pil": Image.__version__ if hasattr(Image, "__version__") else "?", "tv": __import__("torchvision").__version__}
for key, paths in json.loads(sys.argv[1]).items():
    run(paths[:32])
    c0, t0 = time.process_time(), time.perf_counter()
    n = run(paths)
    out[key] = {"wall": n / (time.perf_counter() - t0), "cpu": n / (time.process_time() - c0)}
print(json.dumps(out))
`;

async function runPython(
  lists: Record<string, string[]>,
): Promise<Record<string, unknown> | string> {
  for (const exe of ["/usr/bin/python3", "python3"]) {
    try {
      const r = await new Deno.Command(exe, {
        args: ["-c", PY, JSON.stringify(lists)],
        stdout: "piped",
        stderr: "null",
      }).output();
      const text = new TextDecoder().decode(r.stdout).trim().split("\n").pop() ?? "";
      const res = JSON.parse(text);
      if (!res.error) return res;
    } catch {
      // try the next interpreter
    }
  }
  return "python3 with Pillow and torchvision not found (apt-get install python3-pil python3-torchvision)";
}

const f0 = (v: number) => v.toFixed(0).padStart(7);

/** Print images/s of the data stages against Pillow + torchvision on the same files. */
export async function benchData(): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "bench_data_" });
  try {
    const lists: Record<string, string[]> = {};
    const files: Record<string, FileEntry[]> = {};
    for (const [w, h, n] of SIZES) {
      const distinct = await makeJpegs(dir, w, h);
      const key = `${w}x${h}`;
      lists[key] = Array.from({ length: n }, (_, i) => distinct[i % DISTINCT]);
      files[key] = lists[key].map((path, i) => ({ path, label: i % 6 }));
    }
    const py = await runPython(lists);
    console.log(
      "data stages: decode → resize 150×150 → normalize → augment (flip, ±10° rotate, " +
        "jitter) → batch 32; images/s (wall) and images per CPU-second",
    );
    if (typeof py === "string") console.log(`  Pillow + torchvision: absent — ${py}`);
    else console.log(`  peer: Pillow ${py.pil} + torchvision ${py.tv}, one process, 1 thread`);
    console.log(
      "  JPEG size   ours, 1 thread       ours, 2 workers      Pillow+tv            ratio, 2 workers     ratio, 1 thread",
    );
    const fmt = (f: Figure) => `${f0(f.wall)} (${f0(f.cpu).trim()}/cpu-s)`.padEnd(21);
    for (const [w, h] of SIZES) {
      const key = `${w}x${h}`;
      const one = await runDeno(files[key], 0);
      const two = await runDeno(files[key], 2);
      const peer = typeof py === "string" ? null : py[key] as Figure;
      const ratio = (f: Figure) =>
        peer
          ? `${(f.wall / peer.wall).toFixed(2)}× (${(f.cpu / peer.cpu).toFixed(2)}× cpu)`.padEnd(21)
          : "-".padEnd(21);
      console.log(
        `  ${key.padEnd(10)}${fmt(one)}${fmt(two)}${peer ? fmt(peer) : "-".padEnd(21)}` +
          `${ratio(two)}${ratio(one)}`,
      );
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) await benchData();
