import type { StressPoint, StressTaskInfo } from "@eas/proto";
import { buildReportModel } from "../domain/report-model.js";
import { renderReportHtml, type ChartAssets } from "./report-html.js";

/** A task's report now: the HTML page and the JSON with every point. */
export type ReportRenderer = (info: StressTaskInfo, points: readonly StressPoint[]) => { html: string; json: string };

export function createReportRenderer(assets: ChartAssets, now: () => Date): ReportRenderer {
  return (info, points) => {
    const model = buildReportModel(info, points, now().toISOString());
    return { html: renderReportHtml(model, assets), json: JSON.stringify(model, null, 1) };
  };
}
