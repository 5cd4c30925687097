/**
 * The grid's report.html (in an invocation's `version_N/` folder): every run's
 * hyper-parameters and best figures in one sortable table (click a column; `#sort=Col` or
 * `#sort=-Col` in the address sorts on load), all runs' test-accuracy curves on one chart,
 * and a link to each run's own report. Built from the runs' summary.json files, so it can be
 * rewritten at any time and is complete for whatever runs have finished epochs.
 */
import { join } from "node:path";
import type { HValue } from "../evaluate.ts";
import { writeFileAtomic } from "../atomic.ts";
import { CHART_JS, esc, scriptJson, STYLE } from "./charts.ts";
import type { RunSummary } from "./summary.ts";

/** One run as the grid report shows it. */
export interface GridReportRun {
  name: string;
  hparams: Record<string, HValue>;
  bestEpoch: number;
  epochs: number;
  best: { TestAccuracy: number; TestLoss: number; TrainAccuracy: number; TrainLoss: number };
  /** Test accuracy per epoch, for the combined chart. */
  curve: [number, number][];
  /** Link to the run's own report, relative to the grid report. */
  report: string;
}

const COLORS = ["#2563eb", "#ea580c", "#16a34a", "#9333ea", "#dc2626", "#0891b2", "#ca8a04"];

const SCRIPT = String.raw`
(function () {
  var data = JSON.parse(document.getElementById("grid-data").textContent);
${CHART_JS}
  function sortBy(col) {
    var desc = col.charAt(0) === "-", key = desc ? col.slice(1) : col;
    var body = document.querySelector("#runs tbody");
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = a.getAttribute("data-" + key.toLowerCase()), y = b.getAttribute("data-" + key.toLowerCase());
      var nx = Number(x), ny = Number(y), c = isNaN(nx) || isNaN(ny) ? String(x).localeCompare(y) : nx - ny;
      return desc ? -c : c;
    });
    rows.forEach(function (r) { body.appendChild(r); });
    document.getElementById("runs").setAttribute("data-sorted", col);
  }
  try {
    var ths = document.querySelectorAll("#runs th[data-key]");
    Array.prototype.forEach.call(ths, function (th) {
      th.addEventListener("click", function () {
        var k = th.getAttribute("data-key"), cur = document.getElementById("runs").getAttribute("data-sorted");
        sortBy(cur === "-" + k ? k : "-" + k);
      });
    });
    var m = /sort=(-?[\w.]+)/.exec(location.hash);
    if (m) sortBy(m[1]);
    lineChart("accuracy", "test accuracy", data.runs.map(function (r, i) {
      return { name: r.name, color: data.colors[i % data.colors.length], points: r.curve };
    }), [0, 1], false);
    document.body.setAttribute("data-drawn", "accuracy");
  } catch (err) {
    document.body.setAttribute("data-error", String(err && err.stack || err));
  }
})();
`;

const num = (v: number) => (Number.isFinite(v) ? String(Number(v.toFixed(4))) : "");

/** The complete page for `runs`. */
export function renderGridReport(title: string, runs: GridReportRun[]): string {
  const keys = [...new Set(runs.flatMap((r) => Object.keys(r.hparams)))];
  const figures = ["TestAccuracy", "TestLoss", "TrainAccuracy", "TrainLoss"] as const;
  const head = ["run", ...keys, "best epoch", "epochs", ...figures].map((h) => {
    const key = h === "best epoch" ? "bestEpoch" : h;
    return `<th data-key="${esc(key)}">${esc(h)}</th>`;
  }).join("");
  const rows = runs.map((r, i) => {
    const attrs: Record<string, string> = {
      run: r.name,
      bestepoch: String(r.bestEpoch),
      epochs: String(r.epochs),
    };
    for (const k of keys) attrs[k.toLowerCase()] = String(r.hparams[k] ?? "");
    for (const f of figures) attrs[f.toLowerCase()] = num(r.best[f]);
    const data = Object.entries(attrs).map(([k, v]) => ` data-${esc(k)}="${esc(v)}"`).join("");
    const color = COLORS[i % COLORS.length];
    const cells = [
      `<td><span class="swatch" style="background:${color}"></span><a href="${esc(r.report)}">${
        esc(r.name)
      }</a></td>`,
      ...keys.map((k) => `<td>${esc(String(r.hparams[k] ?? ""))}</td>`),
      `<td>${r.bestEpoch}</td><td>${r.epochs}</td>`,
      ...figures.map((f) => `<td>${num(r.best[f])}</td>`),
    ];
    return `<tr class="run"${data}>${cells.join("")}</tr>`;
  }).join("\n");
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'">
<title>${esc(title)} — grid report</title><style>${STYLE}
#runs{border-collapse:collapse}#runs th,#runs td{padding:3px 10px;text-align:right;border-bottom:1px solid #eee}
#runs th{cursor:pointer;background:#f4f4f4}#runs td:first-child,#runs th:first-child{text-align:left}
.swatch{display:inline-block;width:10px;height:10px;margin-right:6px}
body{max-width:none}#runs td:first-child{white-space:nowrap}</style></head>
<body>
<h1>${esc(title)}</h1>
<p>${runs.length} run(s); best epoch of each by test accuracy, ties to the lower test loss,
then the earlier epoch. Click a column to sort.</p>
<table id="runs"><thead><tr>${head}</tr></thead><tbody>
${rows}
</tbody></table>
<h2>Test accuracy of every run</h2>
<div class="chart" id="accuracy"></div>
<script type="application/json" id="grid-data">${
    scriptJson({ runs: runs.map((r) => ({ name: r.name, curve: r.curve })), colors: COLORS })
  }</script>
<script>${SCRIPT}</script>
</body></html>
`;
}

/** Reads every run's summary.json in `versionDir` (runs without one are left out). */
export async function gridRuns(versionDir: string, names: string[]): Promise<GridReportRun[]> {
  const out: GridReportRun[] = [];
  for (const name of names) {
    let s: RunSummary;
    try {
      s = JSON.parse(await Deno.readTextFile(join(versionDir, name, "summary.json")));
    } catch {
      continue;
    }
    out.push({
      name,
      hparams: s.hparams,
      bestEpoch: s.bestEpoch,
      epochs: s.epochs.length,
      best: s.best,
      curve: s.epochs.map((e) => [e.epoch, e.TestAccuracy ?? NaN]),
      report: `${encodeURIComponent(name)}/report.html`,
    });
  }
  return out;
}

/** Writes `versionDir/report.html` for the runs named (atomically). */
export async function writeGridReport(
  versionDir: string,
  title: string,
  names: string[],
): Promise<string> {
  const path = join(versionDir, "report.html");
  const html = renderGridReport(title, await gridRuns(versionDir, names));
  await writeFileAtomic(path, [new TextEncoder().encode(html)]);
  return path;
}
