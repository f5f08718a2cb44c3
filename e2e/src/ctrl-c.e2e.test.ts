/**
 * Ctrl-C on the local-cluster launcher, as a terminal sends it: SIGINT to the launcher's whole process
 * group. Everything (services, agents, the instances they run, nats-server) must be gone within 5 s, with
 * no error or timeout line on the way, and nothing left for the next start to reap.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { waitFor } from "@eas/testing";

const repoRoot = fileURLToPath(new URL("../../", import.meta.url));

/** Every process whose chain of parents leads to `root`, from /proc (Linux). */
function descendants(root: number): number[] {
  const parentOf = new Map<number, number>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // "pid (comm) state ppid ...": comm may hold spaces, so split after its closing parenthesis.
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      parentOf.set(Number(entry), Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]));
    } catch {
      // The process ended while we looked.
    }
  }
  const found: number[] = [];
  let frontier = [root];
  while (frontier.length > 0) {
    const children = [...parentOf].filter(([, parent]) => frontier.includes(parent)).map(([pid]) => pid);
    found.push(...children);
    frontier = children;
  }
  return found;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    // A zombie is dead but not yet reaped by its parent: it runs nothing.
    return !readFileSync(`/proc/${pid}/stat`, "utf8").includes(") Z ");
  } catch {
    return false;
  }
}

const dataDir = mkdtempSync(join(tmpdir(), "eas-ctrl-c-"));
after(() => rmSync(dataDir, { recursive: true, force: true }));

describe("Ctrl-C on the local cluster", () => {
  it("stops services, agents' instances and NATS in order within 5 s, with no error line, leaving nothing to reap", async () => {
    // The launcher leads its own process group, as a shell's foreground job does.
    const launcher = spawn(
      process.execPath,
      ["--conditions=source", "--import", "tsx", "infra/src/main.ts", "--data-dir", dataDir, "--random-ports", "--agents", "1"],
      { cwd: repoRoot, detached: true, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, EAS_LOG_LEVEL: "info" } },
    );
    let output = "";
    launcher.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    launcher.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => launcher.once("exit", (code) => resolve(code)));
    let processes: number[] = [];
    try {
      await waitFor(
        "the demo to be Running",
        () => {
          if (launcher.exitCode !== null) throw new Error(`the launcher exited:\n${output}`);
          if (output.includes("[demo] ") && output.includes("not ready")) throw new Error(output);
          return output.includes("is Running. Call it");
        },
        { timeoutMs: 120_000, intervalMs: 200 },
      );
      processes = descendants(launcher.pid!);
      const commands = processes.map((pid) => readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " "));
      assert.ok(
        commands.some((c) => c.includes("nats-server")),
        "nats-server runs under the launcher",
      );
      assert.ok(
        commands.some((c) => c.includes("processors/onnx")),
        `the demo's instance runs under its agent: ${commands.join("\n")}`,
      );
      const before = output.length;

      const started = Date.now();
      process.kill(-launcher.pid!, "SIGINT");
      const code = await Promise.race([exited, new Promise<"timeout">((resolve) => setTimeout(() => resolve("timeout"), 15_000))]);
      const tookMs = Date.now() - started;
      const stopping = output.slice(before);
      assert.equal(code, 0, `the launcher exits 0 (took ${tookMs} ms):\n${stopping}`);
      assert.ok(tookMs < 5_000, `everything stopped within 5 s, took ${tookMs} ms:\n${stopping}`);
      await waitFor("every process of the cluster to be gone", () => processes.every((pid) => !alive(pid)), { timeoutMs: 1_000 });
      const bad = stopping
        .split("\n")
        .filter((line) => /\berror\b|\btimeout\b|timed out|ECONNREFUSED|"level":"(warn|error|fatal)"|\[(WRN|ERR|FTL)\]/i.test(line));
      assert.deepEqual(bad, [], `no warning, error or timeout line while stopping:\n${stopping}`);
      // The agent removed its stopped instances' folders: the next start has no pid.json to reap.
      const instancesDir = join(dataDir, "agents", "node-1", "instances");
      assert.deepEqual(existsSync(instancesDir) ? readdirSync(instancesDir) : [], []);
    } finally {
      // Whatever survived a failed run must not outlive the test.
      for (const pid of [launcher.pid!, ...processes]) if (alive(pid)) process.kill(pid, "SIGKILL");
    }
  });
});
