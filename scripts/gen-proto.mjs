#!/usr/bin/env node
// Regenerates libs/proto/src/gen from proto/ with buf + ts-proto.
// With --check, generates into a temp folder and fails when the committed code is stale.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, cpSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const genDir = join(root, "libs/proto/src/gen");
const bin = join(root, "node_modules/.bin");
const env = { ...process.env, PATH: `${bin}:${process.env.PATH}` };

function generate() {
  execFileSync(join(bin, "buf"), ["generate"], { cwd: root, env, stdio: "inherit" });
}

function listFiles(dir) {
  return readdirSync(dir).flatMap((name) => {
    const full = join(dir, name);
    return statSync(full).isDirectory() ? listFiles(full) : [full];
  });
}

if (process.argv.includes("--check")) {
  const saved = mkdtempSync(join(tmpdir(), "eas-gen-"));
  cpSync(genDir, saved, { recursive: true });
  generate();
  const before = listFiles(saved)
    .map((f) => relative(saved, f))
    .sort();
  const after = listFiles(genDir)
    .map((f) => relative(genDir, f))
    .sort();
  const stale =
    before.join("\n") !== after.join("\n") ||
    after.some((f) => readFileSync(join(saved, f), "utf8") !== readFileSync(join(genDir, f), "utf8"));
  if (stale) {
    cpSync(saved, genDir, { recursive: true });
    console.error("generated protobuf code is stale: run `pnpm gen` and commit libs/proto/src/gen");
    process.exit(1);
  }
  rmSync(saved, { recursive: true, force: true });
  console.log("generated protobuf code is up to date");
} else {
  generate();
}
