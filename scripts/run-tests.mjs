#!/usr/bin/env node
// Runs the test tiers named on the command line (unit, int, e2e) with node's test runner,
// finding files by suffix (*.unit.test.ts, *.int.test.ts, *.e2e.test.ts) outside node_modules.
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { join, relative } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const tiers = process.argv.slice(2).filter((arg) => !arg.startsWith("--"));
const filter = process.argv.find((arg) => arg.startsWith("--filter="))?.slice("--filter=".length);
if (tiers.length === 0) tiers.push("unit", "int", "e2e");

const SKIP = new Set(["node_modules", "dist", ".git", ".eas-data"]);
function find(dir, suffixes) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    if (SKIP.has(entry.name)) return [];
    const full = join(dir, entry.name);
    if (entry.isDirectory()) return find(full, suffixes);
    return suffixes.some((suffix) => entry.name.endsWith(suffix)) ? [relative(root, full)] : [];
  });
}

const files = find(
  root,
  tiers.map((tier) => `.${tier}.test.ts`),
)
  .filter((file) => !filter || file.includes(filter))
  .sort((a, b) => tierIndex(a) - tierIndex(b) || a.localeCompare(b));
function tierIndex(file) {
  return tiers.findIndex((tier) => file.endsWith(`.${tier}.test.ts`));
}
if (files.length === 0) {
  console.error(`no test files for tiers ${tiers.join(", ")}`);
  process.exit(1);
}
const result = spawnSync(
  process.execPath,
  ["--conditions=source", "--import", "tsx", "--test", "--test-concurrency=1", "--test-reporter=spec", ...files],
  { cwd: root, stdio: "inherit", env: { ...process.env, EAS_LOG_LEVEL: process.env.EAS_LOG_LEVEL ?? "warn" } },
);
process.exit(result.status ?? 1);
