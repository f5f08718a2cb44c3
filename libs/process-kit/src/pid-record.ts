import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { processStartTime } from "./process-start.js";

/**
 * What `pid.json` in an instance folder holds: enough to report the instance and find its processes after
 * an agent crash. Written by the agent without a pid when the folder is made (the instance is still
 * fetching its storage), then again with the pid once its process runs; read by the agent's next run
 * and by the local-cluster launcher, which kills what a killed agent left running.
 */
export interface PidRecord {
  pid?: number;
  service: string;
  /** The process's start time (`processStartTime`), telling it from a later process that reused the pid. */
  startTime?: string;
}

const PID_FILE = "pid.json";

export function writePidRecord(instanceDir: string, service: string, pid?: number): void {
  const startTime = pid === undefined ? undefined : processStartTime(pid);
  const record: PidRecord = { service, ...(pid === undefined ? {} : { pid }), ...(startTime === undefined ? {} : { startTime }) };
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

export type LeftoverKill = "killed" | "gone" | "no-process" | "pid-reused" | "unusable-pid" | "unverifiable";

/**
 * SIGKILLs the process group a record names, unless its pid now belongs to a later process (or that
 * cannot be checked). Linux does not hand out a pid still in use as a process group id, so a reused pid
 * means the group is empty.
 */
export function killRecordedGroup(record: PidRecord): LeftoverKill {
  if (record.pid === undefined) return "no-process";
  // kill(-0) would signal the caller's own group, kill(-1) every process it may signal.
  if (!Number.isInteger(record.pid) || record.pid <= 1) return "unusable-pid";
  // Without the start time (no /proc) the pid cannot be told from a later process's: kill nothing.
  if (record.startTime === undefined) return "unverifiable";
  const current = processStartTime(record.pid);
  if (current !== undefined && current !== record.startTime) return "pid-reused";
  try {
    process.kill(-record.pid, "SIGKILL");
    return "killed";
  } catch {
    return "gone";
  }
}

/**
 * Whether the process a record names still runs, and is the one the record was written for (its start time
 * matches): an agent that restarts adopts only such a process. False without a pid or a start time to check.
 */
export function isRecordedProcessAlive(record: PidRecord): boolean {
  if (record.pid === undefined || !Number.isInteger(record.pid) || record.pid <= 1 || record.startTime === undefined) return false;
  return processStartTime(record.pid) === record.startTime;
}
