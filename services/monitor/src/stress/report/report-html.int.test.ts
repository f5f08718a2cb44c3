/*
 * The HTML report in a real browser: headless Chromium (Debian's chromium, driven by playwright-core; no
 * browser download) opens a scan's report from a file, offline, and must run its scripts without an
 * error and draw every chart. `scripts/bootstrap.sh --tests` installs chromium.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { createLatencyHistogram, encodeLatencyHistogram, recordLatencyUs } from "@eas/metrics";
import type { StressTaskInfo, StressWorkerReport } from "@eas/proto";
import { colouredPixels, launchHeadlessChromium, openLocalPage, type Browser } from "@eas/testing/chromium";
import { buildReportModel } from "../domain/report-model.js";
import { TaskSeconds, type LoadPeriod } from "../domain/task-seconds.js";
import { specOf, stepsOf } from "../domain/test-support.js";
import { loadChartAssets } from "./chart-assets.js";
import { renderReportHtml } from "./report-html.js";

function scanInfoAndPoints() {
  const seconds = new TaskSeconds();
  const periods: LoadPeriod[] = [];
  const steps = stepsOf([50, "ok"], [100, "ok"], [150, "latency"]);
  for (const [i, step] of steps.entries())
    periods.push({ fromMs: i * 5_000, load: { rate: step.offeredQps, concurrency: 0, closedLoop: false }, step: step.index });
  for (let s = 0; s < 15; s++) {
    const rate = steps[Math.floor(s / 5)]!.offeredQps;
    const histogram = createLatencyHistogram();
    for (let i = 0; i < rate; i++) recordLatencyUs(histogram, (10 + (rate > 100 ? s * 40 : 0) + (i % 7)) * 1000);
    const report: StressWorkerReport = {
      taskId: "t1",
      workerId: "w1",
      state: "running",
      error: "",
      startMs: s * 1000,
      phase: 1,
      closedLoop: false,
      planned: rate,
      sent: rate,
      completed: rate,
      responsesByCode: { 200: rate - (s % 4), 503: s % 4 },
      timeouts: 0,
      connectionErrors: 0,
      latencyHistogramUs: encodeLatencyHistogram(histogram),
      inFlight: 2,
      backlog: 0,
      bytesIn: 0,
    };
    seconds.add(report);
  }
  const points = seconds
    .close(Number.POSITIVE_INFINITY)
    .map((second) => seconds.pointOf(second, periods.filter((p) => p.fromMs <= second.startMs).at(-1)));
  const info: StressTaskInfo = {
    id: "t1",
    spec: specOf({ mode: "scan", minQps: 50, maxQps: 400, maxRtMs: 100, serviceName: "echo" }),
    status: "Completed",
    reason: "limit found: p99 above maxRT 100 ms at 150 req/s",
    workerService: "stress_t1",
    workerIds: ["w1"],
    createdAt: "2026-12-05T10:00:00.000Z",
    startedAt: "2026-12-05T10:00:01.000Z",
    finishedAt: "2026-12-05T10:00:20.000Z",
    loadStartsAtMs: 0,
    steps,
    summary: { ...seconds.summary(0, 15_000, false), kneeQps: 100, limitQps: 150, limitReason: "latency" },
    reportHtmlUrl: "",
    reportJsonUrl: "",
  };
  return { info, points };
}

describe("the HTML report in headless Chromium", { timeout: 120_000 }, () => {
  let browser: Browser;
  const dir = mkdtempSync(join(tmpdir(), "eas-report-"));

  before(async () => {
    browser = await launchHeadlessChromium();
  });
  after(async () => {
    await browser?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("opens from a file without script errors and draws every chart, the knee chart of a scan included", async () => {
    const { info, points } = scanInfoAndPoints();
    const html = renderReportHtml(buildReportModel(info, points, "2026-12-05T10:00:21.000Z"), await loadChartAssets());
    const file = join(dir, "report.html");
    writeFileSync(file, html);

    const { page, errors } = await openLocalPage(browser, file);
    await page.waitForSelector("body[data-charts-ready]", { timeout: 10_000 });

    const screenshot = await page.screenshot({ fullPage: true });
    if (process.env.EAS_KEEP_REPORT_SCREENSHOT) writeFileSync(process.env.EAS_KEEP_REPORT_SCREENSHOT, screenshot);
    assert.deepEqual(errors, []);
    const charts = await page.$$eval(".uplot", (nodes) => nodes.map((node) => node.querySelector(".u-title")?.textContent ?? ""));
    assert.equal(charts.length, 4, `charts: ${JSON.stringify(charts)}`);
    assert.ok(charts.some((title) => title.startsWith("Latency vs offered rate")));
    // Every chart drew something: its canvas has coloured pixels.
    const painted = await colouredPixels(page, ".uplot canvas");
    assert.ok(painted.length >= 4 && painted.every((count) => count > 100), `coloured pixels per chart: ${painted.join(", ")}`);
    const statuses = await page.$$eval("table.statuses tbody tr", (rows) => rows.map((row) => row.textContent ?? ""));
    assert.ok(statuses.some((row) => row.startsWith("200")) && statuses.some((row) => row.startsWith("503")));
    assert.ok(screenshot.length > 20_000, `screenshot of ${screenshot.length} bytes`);
    await page.close();
  });
});
