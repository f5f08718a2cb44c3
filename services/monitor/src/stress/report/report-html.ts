import type { StressReportModel } from "../domain/report-model.js";

/** The charting library, inlined so the page works offline and alone (uPlot: its IIFE build and stylesheet). */
export interface ChartAssets {
  script: string;
  css: string;
}

const escapeHtml = (text: string) =>
  text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);

/** JSON safe inside a <script> element: no "</script>", no "<!--". */
const scriptJson = (value: unknown) =>
  JSON.stringify(value)
    .replace(/</g, "\\u003c")
    .replace(/\u2028/g, "\\u2028")
    .replace(/\u2029/g, "\\u2029");

const num = (value: unknown, digits = 1) => (typeof value === "number" && Number.isFinite(value) ? value.toFixed(digits) : "0");

function summaryRows(model: StressReportModel): Array<[string, string]> {
  const s: Partial<NonNullable<StressReportModel["summary"]>> = model.summary ?? {};
  const rows: Array<[string, string]> = [
    ["Service", model.task.service],
    [
      "Mode",
      model.task.closedLoop
        ? "concurrency: CLOSED LOOP (latency from each actual send)"
        : `${model.task.mode}: open loop (latency from the planned send time)`,
    ],
    ["Status", model.task.reason ? `${model.task.status}: ${model.task.reason}` : model.task.status],
    ["Load workers", String(model.task.workers.length)],
    ["Duration", `${num((s.durationMs ?? 0) / 1000)} s`],
    ["Requests (planned / sent / ended)", `${s.planned ?? 0} / ${s.sent ?? 0} / ${s.completed ?? 0}`],
    ["Offered rate", `${num(s.offeredQps)} req/s`],
    ["Achieved rate", `${num(s.achievedQps)} req/s`],
    ["Errors", `${s.errors ?? 0} (timeouts ${s.timeouts ?? 0}, connection ${s.connectionErrors ?? 0})`],
    [
      "Latency p50 / p90 / p99 / p99.9 / max",
      `${num(s.p50Ms)} / ${num(s.p90Ms)} / ${num(s.p99Ms)} / ${num(s.p999Ms)} / ${num(s.maxMs)} ms`,
    ],
  ];
  if (s.kneeQps !== undefined) rows.push(["Knee (last rate that passed)", `${num(s.kneeQps)} req/s`]);
  if (s.limitQps !== undefined) rows.push(["Limit (first rate that failed)", `${num(s.limitQps)} req/s (${String(s.limitReason ?? "")})`]);
  return rows;
}

function table(headers: string[], rows: string[][], className: string): string {
  const head = headers.length > 0 ? `<thead><tr>${headers.map((h) => `<th>${escapeHtml(h)}</th>`).join("")}</tr></thead>` : "";
  const body = rows.map((row) => `<tr>${row.map((cell) => `<td>${escapeHtml(cell)}</td>`).join("")}</tr>`).join("\n");
  return `<table class="${className}">${head}<tbody>${body}</tbody></table>`;
}

// Runs in the browser: draws the charts from the embedded JSON with uPlot.
const CHART_CODE = `
(function () {
  var report = JSON.parse(document.getElementById("report-data").textContent);
  var points = report.points;
  var t0 = points.length ? points[0].timeMs : 0;
  var x = points.map(function (p) { return (p.timeMs - t0) / 1000; });
  var col = function (name) { return points.map(function (p) { return p[name] === undefined ? (name.slice(-2) === "Ms" ? null : 0) : p[name]; }); };
  var width = Math.max(480, Math.min(1100, document.body.clientWidth - 40));
  var colors = ["#2563eb", "#16a34a", "#f59e0b", "#dc2626", "#7c3aed"];
  function chart(id, title, xLabel, yLabel, xs, series, opts) {
    var el = document.getElementById(id);
    if (!el) return;
    var config = {
      title: title, width: width, height: 260,
      scales: { x: { time: false } },
      axes: [{ label: xLabel }, { label: yLabel }],
      series: [{ label: xLabel }].concat(series.map(function (s, i) {
        return Object.assign({ label: s.label, stroke: colors[i % colors.length], width: 2, spanGaps: false }, s.style || {});
      })),
    };
    if (opts) Object.assign(config, opts);
    new uPlot(config, [xs].concat(series.map(function (s) { return s.data; })), el);
  }
  var closed = report.task.closedLoop;
  chart("chart-rate", closed ? "Rate (closed loop: in flight asked, requests sent and answered)" : "Rate: offered vs achieved", "seconds", "req/s", x, [
    closed ? { label: "in flight asked", data: col("targetConcurrency") } : { label: "offered", data: col("targetQps") },
    { label: "sent", data: col("sent") },
    { label: "achieved (answered)", data: points.map(function (p) { return (p.completed || 0) - (p.timeouts || 0); }) },
  ]);
  chart("chart-latency", closed ? "Latency percentiles (closed loop: from each actual send)" : "Latency percentiles (from the planned send time)", "seconds", "ms", x, [
    { label: "p50", data: col("p50Ms") },
    { label: "p90", data: col("p90Ms") },
    { label: "p99", data: col("p99Ms") },
    { label: "max", data: col("maxMs") },
  ]);
  chart("chart-errors", "Errors per second", "seconds", "req/s", x, [
    { label: "errors", data: col("errors") },
    { label: "timeouts", data: col("timeouts") },
    { label: "connection errors", data: col("connectionErrors") },
  ]);
  var steps = report.steps.slice().sort(function (a, b) { return (a.offeredQps || 0) - (b.offeredQps || 0); });
  if (document.getElementById("chart-knee") && steps.length) {
    chart("chart-knee", "Latency vs offered rate (one point per step)", "offered req/s", "ms", steps.map(function (s) { return s.offeredQps || 0; }), [
      { label: "p50", data: steps.map(function (s) { return s.p50Ms || 0; }), style: { points: { show: true, size: 7 } } },
      { label: "p99", data: steps.map(function (s) { return s.p99Ms || 0; }), style: { points: { show: true, size: 7 } } },
    ]);
  }
  document.body.setAttribute("data-charts-ready", String(document.querySelectorAll(".uplot").length));
})();
`;

/**
 * The report as one HTML page: summary, charts (rate, latency percentiles, errors over time; latency vs
 * offered rate for scan and auto), steps and the status code table, with uPlot and the data inlined so
 * the file opens anywhere, offline. Pure: the caller reads the library's files.
 */
export function renderReportHtml(model: StressReportModel, assets: ChartAssets): string {
  const scanning = model.task.mode === "scan" || model.task.mode === "auto";
  const title = `Stress test ${model.task.id} on ${model.task.service}${model.task.name ? `: ${model.task.name}` : ""}`;
  const steps = model.steps.map((s) => [
    String(s.index),
    model.task.closedLoop ? `${s.concurrency} in flight` : `${num(s.offeredQps)} req/s`,
    `${num(s.achievedQps)} req/s`,
    num(s.p50Ms),
    num(s.p99Ms),
    num(s.maxMs),
    `${num(s.errorRatio * 100, 2)}%`,
    s.verdict,
  ]);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${assets.css}</style>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 20px; color: #111; }
h1 { font-size: 20px; } h2 { font-size: 16px; margin-top: 28px; }
table { border-collapse: collapse; margin: 8px 0; } td, th { border: 1px solid #ccc; padding: 4px 8px; text-align: left; }
.closed-loop { background: #fef3c7; border: 1px solid #f59e0b; padding: 6px 10px; display: inline-block; }
.chart { margin: 8px 0 16px; }
</style>
</head>
<body>
<h1>${escapeHtml(title)}</h1>
${
  model.task.closedLoop
    ? `<p class="closed-loop">Closed loop: each worker kept a fixed number of requests in flight and measured latency from each actual send. Queueing while the service was slow is not in these figures (coordinated omission); use an open-loop mode for latency under a given rate.</p>`
    : `<p>Open loop: requests were sent on a fixed schedule whatever the answers, and each latency runs from the request's planned send time (coordinated omission avoided).</p>`
}
${table(
  [],
  summaryRows(model).map(([k, v]) => [k, v]),
  "summary",
)}
<h2>Rate</h2><div id="chart-rate" class="chart"></div>
<h2>Latency</h2><div id="chart-latency" class="chart"></div>
<h2>Errors</h2><div id="chart-errors" class="chart"></div>
${scanning ? `<h2>Latency vs offered rate</h2><div id="chart-knee" class="chart"></div>` : ""}
<h2>Steps</h2>
${table(["Step", model.task.closedLoop ? "Concurrency" : "Offered", "Achieved", "p50 ms", "p99 ms", "max ms", "Errors", "Verdict"], steps, "steps")}
<h2>Status codes</h2>
${table(
  ["Status", "Meaning", "Count", "Share"],
  model.statuses.map((row) => [row.status, row.meaning, String(row.count), `${num(row.share * 100, 2)}%`]),
  "statuses",
)}
<p>Every per-second point is in the report's JSON (${escapeHtml(model.task.id)}/report.json); generated ${escapeHtml(model.generatedAt)}.</p>
<script id="report-data" type="application/json">${scriptJson(model)}</script>
<script>${assets.script.replace(/<\/script/gi, "<\\/script")}</script>
<script>${CHART_CODE}</script>
</body>
</html>
`;
}
