import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, it } from "node:test";
import { waitFor } from "@eas/testing";
import { reapInstanceProcesses } from "./local-cluster.js";

const started: ChildProcess[] = [];
const folders: string[] = [];

afterEach(() => {
  for (const child of started.splice(0)) {
    try {
      process.kill(-child.pid!, "SIGKILL");
    } catch {
      // Already reaped by the test.
    }
  }
  for (const folder of folders.splice(0)) rmSync(folder, { recursive: true, force: true });
});

/** An instance process as an agent starts it: the leader of its own process group, with a child. */
function startGroup(): ChildProcess {
  const child = spawn("sh", ["-c", "sleep 60 & sleep 60"], { detached: true, stdio: "ignore" });
  started.push(child);
  return child;
}

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

function startTimeOf(pid: number): string {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19]!;
}

function dataDirWith(records: Record<string, object>): string {
  const dataDir = mkdtempSync(join(tmpdir(), "eas-reap-"));
  folders.push(dataDir);
  for (const [instanceId, record] of Object.entries(records)) {
    const dir = join(dataDir, "agents", "node-1", "instances", instanceId);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "pid.json"), JSON.stringify(record));
  }
  return dataDir;
}

describe("reapInstanceProcesses (the launcher, after its agents stopped)", () => {
  it("kills the whole process group an agent left behind and keeps pid.json for the agent's next start", async () => {
    const leftover = startGroup();
    const pid = leftover.pid!;
    const dataDir = dataDirWith({ "svc-v1-aaaaaa": { pid, service: "svc", startTime: startTimeOf(pid) } });

    assert.equal(reapInstanceProcesses(dataDir), 1);
    await waitFor("the group is gone", () => !groupAlive(pid), { timeoutMs: 5_000 });
    // The agent reports the instance Failed from this file when it starts again.
    assert.ok(existsSync(join(dataDir, "agents", "node-1", "instances", "svc-v1-aaaaaa", "pid.json")));
  });

  it("does not kill a process that reused the recorded pid", () => {
    const unrelated = startGroup();
    const pid = unrelated.pid!;
    const dataDir = dataDirWith({ "svc-v1-bbbbbb": { pid, service: "svc", startTime: "1" } });

    assert.equal(reapInstanceProcesses(dataDir), 0);
    assert.ok(groupAlive(pid), "the unrelated process was killed");
  });

  it("does not kill a group whose record has no start time to verify the pid with", () => {
    const unverifiable = startGroup();
    const dataDir = dataDirWith({ "svc-v1-cccccc": { pid: unverifiable.pid, service: "svc" } });
    assert.equal(reapInstanceProcesses(dataDir), 0);
    assert.ok(groupAlive(unverifiable.pid!));
  });

  it("never signals pid 0 or 1, and skips unreadable records", () => {
    const dataDir = dataDirWith({ zero: { pid: 0, service: "svc" }, one: { pid: 1, service: "svc" } });
    mkdirSync(join(dataDir, "agents", "node-1", "instances", "no-record"), { recursive: true });
    assert.equal(reapInstanceProcesses(dataDir), 0);
  });
});
