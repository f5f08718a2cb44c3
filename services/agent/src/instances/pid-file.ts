import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { processStartTime } from "../runtime/process-group.js";

/** What `pid.json` in an instance folder holds: enough to find the instance's processes after a crash. */
export interface PidRecord {
  pid: number;
  service: string;
  /** The process's start time (`processStartTime`), telling it from a later process that reused the pid. */
  startTime?: string;
}

const PID_FILE = "pid.json";

export function writePidRecord(instanceDir: string, pid: number, service: string): void {
  const startTime = processStartTime(pid);
  const record: PidRecord = { pid, service, ...(startTime === undefined ? {} : { startTime }) };
  writeFileSync(join(instanceDir, PID_FILE), JSON.stringify(record));
}

/** The record of an instance folder; undefined when there is none or it cannot be read. */
export function readPidRecord(instanceDir: string): PidRecord | undefined {
  try {
    return JSON.parse(readFileSync(join(instanceDir, PID_FILE), "utf8")) as PidRecord;
  } catch {
    return undefined;
  }
}

export type LeftoverKill = "killed" | "gone" | "pid-reused" | "unusable-pid";

/**
 * SIGKILLs the process group a record names, unless its pid now belongs to a later process. Linux does
 * not hand out a pid still in use as a process group id, so a reused pid means the group is empty.
 */
export function killRecordedGroup(record: PidRecord): LeftoverKill {
  // kill(-0) would signal the caller's own group, kill(-1) every process it may signal.
  if (!Number.isInteger(record.pid) || record.pid <= 1) return "unusable-pid";
  const current = processStartTime(record.pid);
  if (record.startTime !== undefined && current !== undefined && current !== record.startTime) return "pid-reused";
  try {
    process.kill(-record.pid, "SIGKILL");
    return "killed";
  } catch {
    return "gone";
  }
}
