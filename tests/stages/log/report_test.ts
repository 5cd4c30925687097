/**
 * Opens report.html in headless Chromium (Debian's `chromium`, installed here with apt-get
 * when missing and we are root or have passwordless sudo) and checks, in the DOM the
 * page's own script produced, that the curves, the heat map and the samples were drawn.
 */
import { fileURLToPath } from "node:url";
import {
  fileDataUrl,
  imageDataUrl,
  renderReport,
  type ReportData,
  writeReport,
} from "../../../stages/log/report.ts";

import { dumpDom } from "./_chromium.ts";
import { assert, assertEquals } from "../../assert.ts";
import { tempDir } from "../../_temp.ts";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const JPEG = ROOT + "fixtures/intel/seg_test/seg_test/forest/13.jpg";

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
  const dir = await tempDir();
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
