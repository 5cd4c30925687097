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

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** JSON safe inside a `<script>` element (no `</script>`, no `<!--`). */
function scriptJson(v: unknown): string {
  return JSON.stringify(v, (_, x) => (typeof x === "number" && !Number.isFinite(x) ? null : x))
    .replace(/</g, "\\u003c").replace(/\u2028/g, "\\u2028").replace(/\u2029/g, "\\u2029");
}

const STYLE = `
body{font:14px system-ui,sans-serif;margin:24px;color:#222;max-width:1100px}
h1{font-size:20px}h2{font-size:16px;margin-top:28px}
.charts{display:flex;flex-wrap:wrap;gap:24px}
.chart svg{background:#fafafa;border:1px solid #ddd}
.axis{stroke:#888;stroke-width:1}.grid{stroke:#e4e4e4}
text{font-size:11px;fill:#444}
.samples{display:flex;flex-wrap:wrap;gap:12px}
figure{margin:0;width:120px;font-size:12px}
figure img{width:112px;height:112px;object-fit:contain;background:#eee;image-rendering:auto}
.ok{color:#15803d}.bad{color:#b91c1c}
table.hp td{padding:2px 10px 2px 0}`;

/** The page's drawing script (plain ES2017, no network). */
const SCRIPT = String.raw`
(function () {
  var NS = "http://www.w3.org/2000/svg";
  var data = JSON.parse(document.getElementById("report-data").textContent);
  function el(name, attrs, parent) {
    var e = document.createElementNS(NS, name);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    if (parent) parent.appendChild(e);
    return e;
  }
  function text(parent, x, y, s, anchor) {
    var t = el("text", { x: x, y: y, "text-anchor": anchor || "middle" }, parent);
    t.textContent = s;
    return t;
  }
  function fmt(v) {
    return String(Number(v.toPrecision(3)));
  }
  function lineChart(id, title, series, fixed) {
    var box = document.getElementById(id);
    var W = 480, H = 300, L = 56, R = 16, T = 28, B = 40;
    var svg = el("svg", { width: W, height: H, viewBox: "0 0 " + W + " " + H }, box);
    text(svg, W / 2, 18, title);
    var xs = [], ys = [];
    series.forEach(function (s) {
      s.points.forEach(function (p) {
        if (p[1] !== null && isFinite(p[1])) { xs.push(p[0]); ys.push(p[1]); }
      });
    });
    if (!xs.length) { text(svg, W / 2, H / 2, "no data"); box.setAttribute("data-drawn", "1"); return; }
    var x0 = Math.min.apply(null, xs), x1 = Math.max.apply(null, xs);
    var y0 = fixed ? fixed[0] : Math.min.apply(null, ys), y1 = fixed ? fixed[1] : Math.max.apply(null, ys);
    if (!fixed) { var pad = (y1 - y0) * 0.08 || Math.abs(y1) * 0.1 || 1; y0 -= pad; y1 += pad; if (y0 < 0 && Math.min.apply(null, ys) >= 0) y0 = 0; }
    if (x1 === x0) { x0 -= 1; x1 += 1; }
    function sx(x) { return L + (x - x0) / (x1 - x0) * (W - L - R); }
    function sy(y) { return H - B - (y - y0) / (y1 - y0) * (H - T - B); }
    for (var k = 0; k <= 4; k++) {
      var v = y0 + (y1 - y0) * k / 4;
      el("line", { x1: L, x2: W - R, y1: sy(v), y2: sy(v), "class": "grid" }, svg);
      text(svg, L - 6, sy(v) + 4, fmt(v), "end");
    }
    var step = Math.max(1, Math.ceil((x1 - x0) / 8));
    for (var e = Math.ceil(x0); e <= x1; e += step) text(svg, sx(e), H - B + 16, String(e));
    text(svg, (L + W - R) / 2, H - 6, "epoch");
    el("line", { x1: L, x2: L, y1: T, y2: H - B, "class": "axis" }, svg);
    el("line", { x1: L, x2: W - R, y1: H - B, y2: H - B, "class": "axis" }, svg);
    series.forEach(function (s, i) {
      var d = "";
      s.points.forEach(function (p) {
        if (p[1] === null || !isFinite(p[1])) return;
        d += (d ? " L " : "M ") + sx(p[0]).toFixed(1) + " " + sy(p[1]).toFixed(1);
        el("circle", { cx: sx(p[0]), cy: sy(p[1]), r: 2.5, fill: s.color }, svg);
      });
      el("path", { d: d, fill: "none", stroke: s.color, "stroke-width": 2, "data-series": s.name }, svg);
      el("rect", { x: L + 10 + i * 90, y: T + 4, width: 12, height: 3, fill: s.color }, svg);
      text(svg, L + 26 + i * 90, T + 9, s.name, "start");
    });
    box.setAttribute("data-drawn", "1");
  }
  function heatMap(id, m, names) {
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

/** Writes the page to `path` (through a temporary file and a rename). */
export async function writeReport(path: string, data: ReportData): Promise<void> {
  const tmp = `${path}.tmp-${Deno.pid}`;
  await Deno.writeTextFile(tmp, renderReport(data));
  await Deno.rename(tmp, path);
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
