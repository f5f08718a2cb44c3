import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import type { ChartAssets } from "./report-html.js";

/** uPlot's browser build and stylesheet, read once from the installed package. */
export async function loadChartAssets(): Promise<ChartAssets> {
  const require = createRequire(import.meta.url);
  const script = require.resolve("uplot/dist/uPlot.iife.min.js");
  const css = require.resolve("uplot/dist/uPlot.min.css");
  return { script: await readFile(script, "utf8"), css: await readFile(css, "utf8") };
}
