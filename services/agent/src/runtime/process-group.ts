import { readdir, readFile } from "node:fs/promises";
import pidusage from "pidusage";
import type { ProcessStats } from "./types.js";

const HAS_PROC = process.platform === "linux";

/**
 * Live (non-zombie) members of a process group. On Linux from /proc; elsewhere only
 * the leader is known. Zombies are left out: a killed orphan waits for init to reap it,
 * and some init processes (in containers, sandboxes) never do, yet it holds nothing.
 */
export async function groupPids(pgid: number): Promise<number[]> {
  if (!HAS_PROC) return signalGroup(pgid, 0) ? [pgid] : [];
  const pids: number[] = [];
  let entries: string[];
  try {
    entries = await readdir("/proc");
  } catch {
    return signalGroup(pgid, 0) ? [pgid] : [];
  }
  await Promise.all(
    entries.map(async (entry) => {
      if (!/^\d+$/.test(entry)) return;
      try {
        const stat = await readFile(`/proc/${entry}/stat`, "utf8");
        // pid (comm) state ppid pgrp ...: comm may hold spaces and parentheses, so split after the last ")".
        const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
        if (fields[0] !== "Z" && fields[0] !== "X" && Number(fields[2]) === pgid) pids.push(Number(entry));
      } catch {
        // The process ended while we looked.
      }
    }),
  );
  return pids.sort((a, b) => a - b);
}

/** Sends a signal to every process of a group; false when the group no longer exists. */
export function signalGroup(pgid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false;
  }
}

/** Polls until the group has no live member; resolves true if it emptied within `timeoutMs`. */
export async function waitGroupGone(pgid: number, timeoutMs: number, pollMs = 50): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if ((await groupPids(pgid)).length === 0) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, Math.min(pollMs, Math.max(1, deadline - Date.now()))));
  }
}

/** CPU and memory of a process group: the sum over its live members. */
export async function groupStats(pgid: number): Promise<ProcessStats> {
  const pids = await groupPids(pgid);
  const stats = await Promise.allSettled(pids.map((pid) => pidusage(pid)));
  let cpuPercent = 0;
  let memoryBytes = 0;
  for (const stat of stats) {
    if (stat.status === "fulfilled") {
      cpuPercent += stat.value.cpu;
      memoryBytes += stat.value.memory;
    }
  }
  return { cpuPercent, memoryBytes };
}

/** SIGTERM to the group, SIGKILL to what is left after `graceMs`; resolves once the group is gone (or 5 s after the SIGKILL). */
export async function terminateGroup(pgid: number, graceMs: number): Promise<void> {
  if (!signalGroup(pgid, "SIGTERM")) return;
  if (await waitGroupGone(pgid, graceMs)) return;
  signalGroup(pgid, "SIGKILL");
  await waitGroupGone(pgid, 5_000);
}
