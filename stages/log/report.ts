/**
 * report.html: one self-contained page per run (no network) with the train-versus-test
 * accuracy and loss curves, the confusion matrix as a heat map and sample predictions.
 * The data sits in the page as JSON; an inline script draws SVG from it and marks each
 * chart with `data-drawn="1"` (and `<body data-drawn>` once all are drawn), which is what
 * the headless-browser test looks for. Thumbnails are `data:` URLs.
 */
import { extname } from "node:path";
import { Buffer } from "node:buffer";
import type { EpochMetrics, HValue } from "../evaluate.ts";
import type { FloatImage, RawImage } from "../types.ts";
import { CHART_JS, esc, scriptJson, STYLE } from "./charts.ts";
import { writeTextAtomic } from "../atomic.ts";

/** One point of the curves. */
export interface ReportEpoch {
  /** Epoch number. */
  epoch: number;
  /** Training loss. */
  trainLoss: number;
  /** Training accuracy in [0, 1]. */
  trainAccuracy: number;
  /** Test loss. */
  testLoss: number;
  /** Test accuracy in [0, 1]. */
  testAccuracy: number;
}

/** One sample prediction shown with its thumbnail. */
export interface ReportSample {
  /** True class index. */
  label: number;
  /** Predicted class index. */
  pred: number;
  /** Probability of the predicted class. */
  prob?: number;
  /** Source file. */
  path?: string;
  /** Thumbnail as a `data:` URL (see `imageDataUrl`, `fileDataUrl`). */
  image?: string;
}

/** Everything the page shows. */
export interface ReportData {
  /** Run name. */
  run: string;
  /** Class names by index. */
  classes: string[];
  /** Curves, one entry per epoch. */
  history: ReportEpoch[];
  /** `confusion[true][predicted]` of the epoch shown (usually the best). */
  confusion: number[][];
  /** The epoch the confusion matrix and samples come from. */
  confusionEpoch?: number;
  /** Sample predictions. */
  samples?: ReportSample[];
  /** Hyper-parameters. */
  hparams?: Record<string, HValue>;
}

/** Curve points from a run's epoch records. */
export function reportHistory(history: EpochMetrics[]): ReportEpoch[] {
  return history.map((m) => ({
    epoch: m.epoch,
    trainLoss: m.train.loss,
    trainAccuracy: m.train.accuracy,
    testLoss: m.test.loss,
    testAccuracy: m.test.accuracy,
  }));
}

/** JSON safe inside a `<script>` element (no `</script>`, no `<!--`). */
/** The page's drawing script (plain ES2017, no network). */
const SCRIPT = String.raw`
(function () {
  var data = JSON.parse(document.getElementById("report-data").textContent);
${CHART_JS}  function heatMap(id, m, names) {
    var box = document.getElementById(id);
    var n = m.length, cell = Math.max(28, Math.min(64, Math.floor(420 / Math.max(n, 1))));
    var L = 110, T = 36, W = L + n * cell + 16, H = T + n * cell + 90;
    var svg = el("svg", { width: W, height: H, viewBox: "0 0 " + W + " " + H }, box);
    text(svg, L + n * cell / 2, 14, "predicted");
    for (var t = 0; t < n; t++) {
      var total = m[t].reduce(function (a, b) { return a + b; }, 0);
      text(svg, L - 6, T + t * cell + cell / 2 + 4, names[t] || String(t), "end");
      for (var p = 0; p < n; p++) {
        var f = total ? m[t][p] / total : 0;
        var light = Math.round(97 - f * 62);
        var r = el("rect", { x: L + p * cell, y: T + t * cell, width: cell - 1, height: cell - 1,
          fill: "hsl(" + (t === p ? 215 : 5) + ",70%," + light + "%)", "class": "cell",
          "data-true": t, "data-pred": p, "data-count": m[t][p] }, svg);
        el("title", {}, r).textContent = (names[t] || t) + " → " + (names[p] || p) + ": " + m[t][p];
        var lbl = text(svg, L + p * cell + cell / 2, T + t * cell + cell / 2 + 4, String(m[t][p]));
        if (f > 0.55) lbl.setAttribute("style", "fill:#fff");
      }
    }
    for (var q = 0; q < n; q++) {
      var x = L + q * cell + cell / 2, y = T + n * cell + 8;
      var lt = text(svg, x, y, names[q] || String(q), "end");
      lt.setAttribute("transform", "rotate(-45 " + x + " " + y + ")");
    }
    text(svg, 14, T + n * cell / 2, "true", "middle").setAttribute("transform", "rotate(-90 14 " + (T + n * cell / 2) + ")");
    box.setAttribute("data-drawn", "1");
  }
  function samples(id, list, names) {
    var box = document.getElementById(id);
    list.forEach(function (s) {
      var f = document.createElement("figure");
      if (s.image) { var img = document.createElement("img"); img.src = s.image; img.alt = s.path || ""; f.appendChild(img); }
      var c = document.createElement("figcaption");
      c.className = s.pred === s.label ? "ok" : "bad";
      c.textContent = "pred " + (names[s.pred] || s.pred) + (s.prob != null ? " (" + (100 * s.prob).toFixed(0) + "%)" : "") +
        " · true " + (names[s.label] || s.label);
      if (s.path) c.title = s.path;
      f.appendChild(c);
      box.appendChild(f);
    });
    box.setAttribute("data-drawn", "1");
  }
  try {
    var h = data.history;
    function pts(key) { return h.map(function (e) { return [e.epoch, e[key]]; }); }
    lineChart("accuracy", "accuracy", [
      { name: "train", color: "#2563eb", points: pts("trainAccuracy") },
      { name: "test", color: "#ea580c", points: pts("testAccuracy") }], [0, 1]);
    lineChart("loss", "loss", [
      { name: "train", color: "#2563eb", points: pts("trainLoss") },
      { name: "test", color: "#ea580c", points: pts("testLoss") }]);
    heatMap("confusion", data.confusion, data.classes);
    samples("samples", data.samples || [], data.classes);
    document.body.setAttribute("data-drawn", "accuracy loss confusion samples");
  } catch (err) {
    document.body.setAttribute("data-error", String(err && err.stack || err));
  }
})();
`;

/** The complete HTML page. */
export function renderReport(data: ReportData): string {
  const hp = Object.entries(data.hparams ?? {})
    .map(([k, v]) => `<tr><td>${esc(k)}</td><td>${esc(String(v))}</td></tr>`).join("");
  const last = data.history.at(-1);
  // The best epoch is the summary's (one rule for every output); the confusion matrix
  // shown is that epoch's.
  const best = data.history.find((e) => e.epoch === data.confusionEpoch) ?? last;
  const pct = (v: number | undefined) => v === undefined ? "–" : `${(100 * v).toFixed(2)}%`;
  const cm = data.confusionEpoch === undefined ? "" : ` (epoch ${data.confusionEpoch})`;
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'">
<title>${esc(data.run)} — report</title><style>${STYLE}</style></head>
<body>
<h1>Run ${esc(data.run)}</h1>
<p>${data.history.length} epoch(s); best test accuracy ${pct(best?.testAccuracy)} at epoch ${
    best?.epoch ?? "–"
  }; last ${pct(last?.testAccuracy)}.</p>
${hp ? `<table class="hp">${hp}</table>` : ""}
<h2>Curves</h2>
<div class="charts"><div class="chart" id="accuracy"></div><div class="chart" id="loss"></div></div>
<h2>Confusion matrix${cm}</h2>
<div class="chart" id="confusion"></div>
<h2>Sample predictions</h2>
<div class="samples" id="samples"></div>
<script type="application/json" id="report-data">${scriptJson(data)}</script>
<script>${SCRIPT}</script>
</body></html>
`;
}

/** Writes the page to `path` atomically (`writeTextAtomic`). */
export function writeReport(path: string, data: ReportData): Promise<void> {
  return writeTextAtomic(path, renderReport(data));
}

/** An image file (JPEG, PNG, GIF, BMP, WebP) as a `data:` URL. */
export async function fileDataUrl(path: string): Promise<string> {
  const types: Record<string, string> = {
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".gif": "image/gif",
    ".bmp": "image/bmp",
    ".webp": "image/webp",
  };
  const type = types[extname(path).toLowerCase()];
  if (!type) throw new Error(`report: ${path} is not an image type a browser shows`);
  return `data:${type};base64,${Buffer.from(await Deno.readFile(path)).toString("base64")}`;
}

/**
 * A decoded image (8-bit HWC, or normalized float CHW with its mean and std undone) as a
 * 24-bit BMP `data:` URL, shrunk by box averaging so its longer side is at most `maxSide`.
 */
export function imageDataUrl(img: RawImage | FloatImage, maxSide = 96): string {
  const { width, height, channels } = img;
  const scale = Math.max(1, Math.ceil(Math.max(width, height) / maxSide));
  const w = Math.ceil(width / scale), h = Math.ceil(height / scale);
  const float = img.data instanceof Float32Array;
  const px = (x: number, y: number, c: number): number => {
    const cc = channels < 3 ? 0 : c;
    if (!float) return img.data[(y * width + x) * channels + cc];
    const f = img as FloatImage;
    const v = f.data[(cc * height + y) * width + x] * (f.std[cc] ?? 1) + (f.mean[cc] ?? 0);
    return v * 255;
  };
  const row = (w * 3 + 3) & ~3;
  const bmp = new Uint8Array(54 + row * h);
  const dv = new DataView(bmp.buffer);
  bmp[0] = 0x42, bmp[1] = 0x4d;
  dv.setUint32(2, bmp.length, true);
  dv.setUint32(10, 54, true);
  dv.setUint32(14, 40, true);
  dv.setInt32(18, w, true);
  dv.setInt32(22, -h, true); // top-down rows
  dv.setUint16(26, 1, true);
  dv.setUint16(28, 24, true);
  dv.setUint32(34, row * h, true);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      for (let c = 0; c < 3; c++) {
        let sum = 0, n = 0;
        for (let yy = y * scale; yy < Math.min(height, (y + 1) * scale); yy++) {
          for (let xx = x * scale; xx < Math.min(width, (x + 1) * scale); xx++) {
            sum += px(xx, yy, c);
            n++;
          }
        }
        const v = Math.round(sum / n);
        bmp[54 + y * row + x * 3 + (2 - c)] = v < 0 ? 0 : v > 255 ? 255 : v;
      }
    }
  }
  return `data:image/bmp;base64,${Buffer.from(bmp).toString("base64")}`;
}
