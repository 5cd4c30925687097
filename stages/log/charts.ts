/**
 * What the HTML pages of a run and of a grid share: the page style, JSON embedded safely in
 * a script tag, and the inline SVG line chart (plain ES2017, no network). A chart marks its
 * box with `data-drawn="1"` when drawn, which the headless-browser tests look for.
 */

/** Text for HTML (the five special characters as numeric references). */
export const esc = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** JSON for a `<script type="application/json">` tag (non-finite numbers become null). */
export function scriptJson(v: unknown): string {
  return JSON.stringify(v, (_, x) => (typeof x === "number" && !Number.isFinite(x) ? null : x))
    .replace(/</g, "\\u003c").replace(/\u2028/g, "\\u2028").replace(/\u2029/g, "\\u2029");
}

/** The pages' style. */
export const STYLE = `
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

/**
 * The drawing helpers, as script text for inside the page's function: `el`, `text`, `fmt`,
 * `lineChart(id, title, series, fixed, legend = true)`, with series
 * `{ name, color, points: [[x, y], …] }`, and `scatterChart(id, title, points, scale, fixed)`
 * with points `{ x, y, color, label }` and scale "linear", "log" or "category" for x (each
 * dot carries `data-label`; the box `data-points` counts the dots drawn).
 */
export const CHART_JS = String.raw`
  var NS = "http://www.w3.org/2000/svg";
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
  function lineChart(id, title, series, fixed, legend) {
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
      if (legend === false) return;
      el("rect", { x: L + 10 + i * 90, y: T + 4, width: 12, height: 3, fill: s.color }, svg);
      text(svg, L + 26 + i * 90, T + 9, s.name, "start");
    });
    box.setAttribute("data-drawn", "1");
  }
  function scatterChart(id, title, points, scale, fixed) {
    var box = document.getElementById(id);
    var W = 360, H = 260, L = 56, R = 16, T = 28, B = 40;
    var svg = el("svg", { width: W, height: H, viewBox: "0 0 " + W + " " + H }, box);
    text(svg, W / 2, 18, title);
    var pts = points.filter(function (p) {
      return p.y !== null && isFinite(p.y) && p.x !== null && p.x !== undefined &&
        (scale !== "log" || Number(p.x) > 0);
    });
    box.setAttribute("data-points", String(pts.length));
    if (!pts.length) { text(svg, W / 2, H / 2, "no data"); box.setAttribute("data-drawn", "1"); return; }
    var cats = [];
    if (scale === "category") {
      pts.forEach(function (p) { if (cats.indexOf(String(p.x)) < 0) cats.push(String(p.x)); });
      cats.sort();
    }
    function fx(x) {
      if (scale === "category") return cats.indexOf(String(x));
      return scale === "log" ? Math.log(Number(x)) / Math.LN10 : Number(x);
    }
    var xs = pts.map(function (p) { return fx(p.x); }), ys = pts.map(function (p) { return p.y; });
    var x0 = Math.min.apply(null, xs), x1 = Math.max.apply(null, xs);
    if (scale === "category") { x0 = -0.5; x1 = cats.length - 0.5; }
    else if (x1 === x0) { x0 -= 1; x1 += 1; }
    else { var px = (x1 - x0) * 0.05; x0 -= px; x1 += px; }
    var y0 = fixed ? fixed[0] : Math.min.apply(null, ys), y1 = fixed ? fixed[1] : Math.max.apply(null, ys);
    if (y1 === y0) { y0 -= 0.5; y1 += 0.5; }
    function sx(x) { return L + (x - x0) / (x1 - x0) * (W - L - R); }
    function sy(y) { return H - B - (y - y0) / (y1 - y0) * (H - T - B); }
    for (var k = 0; k <= 4; k++) {
      var v = y0 + (y1 - y0) * k / 4;
      el("line", { x1: L, x2: W - R, y1: sy(v), y2: sy(v), "class": "grid" }, svg);
      text(svg, L - 6, sy(v) + 4, fmt(v), "end");
    }
    if (scale === "category") cats.forEach(function (c, i) { text(svg, sx(i), H - B + 16, c); });
    else {
      for (var j = 0; j <= 3; j++) {
        var u = x0 + (x1 - x0) * (0.05 + 0.9 * j / 3);
        text(svg, sx(u), H - B + 16, scale === "log" ? fmt(Math.pow(10, u)) : fmt(u));
      }
    }
    text(svg, (L + W - R) / 2, H - 6, scale === "log" ? title + " (log scale)" : title);
    el("line", { x1: L, x2: L, y1: T, y2: H - B, "class": "axis" }, svg);
    el("line", { x1: L, x2: W - R, y1: H - B, y2: H - B, "class": "axis" }, svg);
    pts.forEach(function (p) {
      var c = el("circle", { cx: sx(fx(p.x)), cy: sy(p.y), r: 4, fill: p.color, "fill-opacity": 0.8, "data-label": p.label }, svg);
      el("title", {}, c).textContent = p.label + ": " + p.x + " → " + fmt(p.y);
    });
    box.setAttribute("data-drawn", "1");
  }
`;
