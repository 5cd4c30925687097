/**
 * The grid's report.html (in an invocation's `version_N/` folder): every run's
 * hyper-parameters and best figures in one sortable table (click a column; `#sort=Col` or
 * `#sort=-Col` in the address sorts on load), all runs' test-accuracy curves on one chart,
 * and a link to each run's own report. Built from the runs' summary.json files, so it can be
 * rewritten at any time and is complete for whatever runs have finished epochs.
 *
 * A study's report (`study` given) adds each trial's state and number to the table, a
 * scatter of each searched hyper-parameter against the metric (dots coloured by state),
 * and the best trial's accuracy and loss curves; its runs come from the study's store, so
 * a trial trained on another machine is listed too (without a link).
 */
import { join } from "node:path";
import type { HValue } from "../evaluate.ts";
import { writeTextAtomic } from "../atomic.ts";
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
  /** Link to the run's own report, relative to the grid report ("" for none). */
  report: string;
  /** A study trial's state (complete, pruned, failed, running, queued). */
  state?: string;
  /** A study trial's number. */
  trial?: number;
}

/** A curve of the best trial's charts. */
export interface StudyCurve {
  name: string;
  points: [number, number][];
}

/** What a study's report shows besides the table. */
export interface StudyView {
  /** The study's name and where it lives (a PostgreSQL URL masked). */
  name: string;
  where: string;
  /** The metric of the scatters (a figure of `best`, e.g. TestAccuracy). */
  metric: "TestAccuracy" | "TestLoss" | "TrainAccuracy" | "TrainLoss";
  /** The searched hyper-parameters and how to lay out their axis. */
  params: { key: string; scale: "linear" | "log" | "category" }[];
  /** The trials in each state, as a phrase. */
  states: string;
  /** The best trial and its curves. */
  best?: { name: string; accuracy: StudyCurve[]; loss: StudyCurve[] };
}

/** The colour of a trial's state in the scatters. */
export const STATE_COLORS: Record<string, string> = {
  complete: "#2563eb",
  pruned: "#ea580c",
  failed: "#dc2626",
  running: "#6b7280",
  queued: "#9ca3af",
};

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
    var drawn = ["accuracy"], st = data.study;
    if (st) {
      st.params.forEach(function (p, i) {
        scatterChart("scatter-" + i, p.key, data.runs.map(function (r) {
          return { x: r.hparams[p.key], y: r.value, color: st.colors[r.state] || "#000", label: r.name };
        }), p.scale, /Accuracy/.test(st.metric) ? [0, 1] : null);
      });
      if (st.best) {
        var two = ["#2563eb", "#ea580c"];
        lineChart("best-accuracy", "accuracy", st.best.accuracy.map(function (c, i) {
          return { name: c.name, color: two[i], points: c.points };
        }), [0, 1]);
        if (st.best.loss.length) {
          lineChart("best-loss", "loss", st.best.loss.map(function (c, i) {
            return { name: c.name, color: two[i], points: c.points };
          }), null);
        }
      }
      drawn.push("study");
    }
    document.body.setAttribute("data-drawn", drawn.join(" "));
  } catch (err) {
    document.body.setAttribute("data-error", String(err && err.stack || err));
  }
})();
`;

const num = (v: number) => (Number.isFinite(v) ? String(Number(v.toFixed(4))) : "");

/** The study's part of the page: the scatters and the best trial's charts. */
function studySection(s: StudyView): string {
  const legend = Object.entries(STATE_COLORS).map(([k, c]) =>
    `<span class="swatch" style="background:${c}"></span>${esc(k)}`
  ).join(" ");
  const scatters = s.params.map((_, i) => `<div class="chart" id="scatter-${i}"></div>`).join("");
  const best = s.best
    ? `<h2>Best trial: ${esc(s.best.name)}</h2>
<div class="charts"><div class="chart" id="best-accuracy"></div>${
      s.best.loss.length ? '<div class="chart" id="best-loss"></div>' : ""
    }</div>`
    : "";
  return `<h2>Each hyper-parameter against ${esc(s.metric)}</h2>
<p>One dot per trial, at its best epoch: ${legend}</p>
<div class="charts" id="scatters">${scatters}</div>
${best}`;
}

/** The complete page for `runs` (a study's, with `study`). */
export function renderGridReport(title: string, runs: GridReportRun[], study?: StudyView): string {
  const keys = [...new Set(runs.flatMap((r) => Object.keys(r.hparams)))];
  const figures = ["TestAccuracy", "TestLoss", "TrainAccuracy", "TrainLoss"] as const;
  const lead = study ? ["run", "trial", "state"] : ["run"];
  const head = [...lead, ...keys, "best epoch", "epochs", ...figures].map((h) => {
    const key = h === "best epoch" ? "bestEpoch" : h;
    return `<th data-key="${esc(key)}">${esc(h)}</th>`;
  }).join("");
  const rows = runs.map((r, i) => {
    const attrs: Record<string, string> = {
      run: r.name,
      ...(study ? { trial: String(r.trial ?? ""), state: r.state ?? "" } : {}),
      bestepoch: String(r.bestEpoch),
      epochs: String(r.epochs),
    };
    for (const k of keys) attrs[k.toLowerCase()] = String(r.hparams[k] ?? "");
    for (const f of figures) attrs[f.toLowerCase()] = num(r.best[f]);
    const data = Object.entries(attrs).map(([k, v]) => ` data-${esc(k)}="${esc(v)}"`).join("");
    const color = COLORS[i % COLORS.length];
    const name = r.report ? `<a href="${esc(r.report)}">${esc(r.name)}</a>` : esc(r.name);
    const cells = [
      `<td><span class="swatch" style="background:${color}"></span>${name}</td>`,
      ...(study
        ? [
          `<td>${r.trial ?? ""}</td>`,
          `<td class="state-${esc(r.state ?? "")}">${esc(r.state ?? "")}</td>`,
        ]
        : []),
      ...keys.map((k) => `<td>${esc(String(r.hparams[k] ?? ""))}</td>`),
      `<td>${r.bestEpoch}</td><td>${r.epochs}</td>`,
      ...figures.map((f) => `<td>${num(r.best[f])}</td>`),
    ];
    return `<tr class="run"${data}>${cells.join("")}</tr>`;
  }).join("\n");
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'">
<title>${esc(title)} — ${study ? "study" : "grid"} report</title><style>${STYLE}
#runs{border-collapse:collapse}#runs th,#runs td{padding:3px 10px;text-align:right;border-bottom:1px solid #eee}
#runs th{cursor:pointer;background:#f4f4f4}#runs td:first-child,#runs th:first-child{text-align:left}
.swatch{display:inline-block;width:10px;height:10px;margin-right:6px}
body{max-width:none}#runs td:first-child{white-space:nowrap}</style></head>
<body>
<h1>${esc(title)}</h1>
${
    study
      ? `<p>Study <b>${esc(study.name)}</b> (${esc(study.where)}): ${runs.length} trial(s): ${
        esc(study.states)
      }.</p>`
      : ""
  }<p>${runs.length} run(s); best epoch of each by test accuracy, ties to the lower test loss,
then the earlier epoch. Click a column to sort.</p>
<table id="runs"><thead><tr>${head}</tr></thead><tbody>
${rows}
</tbody></table>
<h2>Test accuracy of every run</h2>
<div class="chart" id="accuracy"></div>
${study ? studySection(study) : ""}
<script type="application/json" id="grid-data">${
    scriptJson({
      runs: runs.map((r) => ({
        name: r.name,
        curve: r.curve,
        ...(study ? { hparams: r.hparams, state: r.state, value: r.best[study.metric] } : {}),
      })),
      colors: COLORS,
      ...(study ? { study: { ...study, colors: STATE_COLORS } } : {}),
    })
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

/**
 * Writes `versionDir/report.html` (atomically) for the runs named (read from their
 * summary.json files), or for the runs given (a study's, with `study`).
 */
export async function writeGridReport(
  versionDir: string,
  title: string,
  runs: string[] | GridReportRun[],
  study?: StudyView,
): Promise<string> {
  const path = join(versionDir, "report.html");
  const list = runs.every((r) => typeof r === "string")
    ? await gridRuns(versionDir, runs as string[])
    : runs as GridReportRun[];
  const html = renderGridReport(title, list, study);
  await writeTextAtomic(path, html);
  return path;
}
