/**
 * Opens report.html in headless Chromium (Debian's `chromium`, installed here with apt-get
 * when missing and we are root or have passwordless sudo) and checks, in the DOM the
 * page's own script produced, that the curves, the heat map and the samples were drawn.
 */
import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import {
  fileDataUrl,
  imageDataUrl,
  renderReport,
  type ReportData,
  writeReport,
} from "../../../stages/log/report.ts";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const JPEG = ROOT + "fixtures/intel/seg_test/seg_test/forest/13.jpg";

async function sh(cmd: string, args: string[]): Promise<{ ok: boolean; out: string }> {
  const o = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  const dec = new TextDecoder();
  return { ok: o.success, out: dec.decode(o.stdout) + dec.decode(o.stderr) };
}

/** Path of a Chromium binary, installing Debian's package when needed and possible. */
async function chromium(): Promise<string> {
  for (const p of ["/usr/bin/chromium", "/usr/bin/chromium-browser"]) if (existsSync(p)) return p;
  const root = Deno.uid() === 0;
  const sudo = !root && (await sh("sh", ["-c", "command -v sudo && sudo -n true"])).ok;
  if (!root && !sudo) {
    throw new Error(
      "report test: /usr/bin/chromium is missing and cannot be installed (not root, no " +
        "passwordless sudo): run `apt-get install chromium` first",
    );
  }
  const pre = sudo ? "sudo -n " : "";
  console.error("report test: installing Debian's chromium package (apt-get)…");
  const r = await sh("sh", [
    "-c",
    `${pre}apt-get update -qq && DEBIAN_FRONTEND=noninteractive ${pre}apt-get install -y -qq ` +
    "--no-install-recommends chromium",
  ]);
  if (!r.ok || !existsSync("/usr/bin/chromium")) {
    throw new Error(`report test: apt-get install chromium failed:\n${r.out.slice(-2000)}`);
  }
  return "/usr/bin/chromium";
}

/** The DOM after the page's scripts ran, as headless Chromium dumps it. */
async function dumpDom(file: string): Promise<string> {
  const bin = await chromium();
  const profile = await Deno.makeTempDir({ prefix: "chromium-profile-" });
  try {
    const r = await sh(bin, [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
      "--disable-dev-shm-usage",
      `--user-data-dir=${profile}`,
      "--virtual-time-budget=5000",
      "--dump-dom",
      `file://${file}`,
    ]);
    if (!r.ok) throw new Error(`chromium failed:\n${r.out.slice(-2000)}`);
    return r.out;
  } finally {
    await Deno.remove(profile, { recursive: true });
  }
}

const classes = ["buildings", "forest", "glacier", "mountain", "sea", "street"];

async function data(): Promise<ReportData> {
  const raw = { width: 4, height: 3, channels: 3, data: new Uint8Array(36).map((_, i) => i * 7) };
  return {
    run: "lr=0.0003_batch_size=32 </script><b>x</b>",
    classes,
    history: [1, 2, 3, 4].map((e) => ({
      epoch: e,
      trainLoss: 1.5 / e,
      trainAccuracy: 0.5 + e * 0.1,
      testLoss: 1.6 / e + 0.05,
      testAccuracy: 0.45 + e * 0.09,
    })),
    confusion: classes.map((_, t) => classes.map((_, p) => (t === p ? 20 : (t + p) % 3))),
    confusionEpoch: 4,
    samples: [
      { label: 1, pred: 1, prob: 0.93, path: "forest/13.jpg", image: await fileDataUrl(JPEG) },
      { label: 2, pred: 3, prob: 0.51, path: "raw", image: imageDataUrl(raw) },
      { label: 0, pred: 0 },
    ],
    hparams: { lr: 0.0003, batch_size: 32, optimizer: "adam" },
  };
}

Deno.test("report: self-contained page, charts drawn in headless Chromium", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = `${dir}/report.html`;
    await writeReport(file, await data());
    const html = await Deno.readTextFile(file);
    assert(!/(src|href)\s*=\s*["']?(https?:)?\/\//i.test(html), "no network references");
    assert(!html.includes("</script><b>"), "run name escaped");

    const dom = await dumpDom(file);
    assert(!/data-error=/.test(dom), dom.match(/data-error="[^"]*"/)?.[0]);
    assert(/<body[^>]*data-drawn="accuracy loss confusion samples"/.test(dom), "body data-drawn");
    for (const id of ["accuracy", "loss", "confusion", "samples"]) {
      assert(new RegExp(`id="${id}"[^>]*data-drawn="1"`).test(dom), `${id} drawn`);
    }
    const chart = (id: string) => dom.split(`id="${id}"`)[1].split("</svg>")[0];
    for (const id of ["accuracy", "loss"]) {
      const paths = [...chart(id).matchAll(/<path d="([^"]*)"[^>]*data-series="(\w+)"/g)];
      assertEquals(paths.map((p) => p[2]), ["train", "test"], id);
      for (const [, d] of paths) assertEquals(d.match(/[ML]/g)!.length, 4, `${id}: ${d}`);
    }
    const cells = [...chart("confusion").matchAll(/<rect [^>]*class="cell"[^>]*>/g)];
    assertEquals(cells.length, 36);
    assert(cells.every((c) => /fill="hsl\(/.test(c[0])));
    const samples = dom.split('id="samples"')[1];
    assertEquals((samples.match(/<figure>/g) ?? []).length, 3);
    assertEquals((samples.match(/<img src="data:image\/(jpeg|bmp);base64,/g) ?? []).length, 2);
    assert(samples.includes("pred glacier") === false && samples.includes("pred mountain (51%)"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("report: thumbnails are valid BMPs of the shrunk size", () => {
  const img = {
    channels: 3,
    height: 150,
    width: 100,
    data: new Float32Array(3 * 150 * 100),
    mean: [0.5, 0.5, 0.5],
    std: [0.25, 0.25, 0.25],
  };
  const url = imageDataUrl(img, 50);
  const bytes = Uint8Array.from(atob(url.split(",")[1]), (c) => c.charCodeAt(0));
  const dv = new DataView(bytes.buffer);
  assertEquals([dv.getInt32(18, true), dv.getInt32(22, true)], [34, -50]);
  assertEquals(bytes[54], 128); // 0 * 0.25 + 0.5 → mid grey
  assert(
    renderReport({ run: "r", classes: [], history: [], confusion: [] }).includes("<svg") === false,
  );
});
