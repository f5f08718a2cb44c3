import { readFileSync } from "node:fs";

const HAS_PROC = process.platform === "linux";

/**
 * When a process started (clock ticks after boot, field 22 of `/proc/<pid>/stat`): with its pid it
 * identifies the process, telling it from a later one that reused the pid. Undefined when the
 * process does not exist or the platform has no /proc.
 */
export function processStartTime(pid: number): string | undefined {
  if (!HAS_PROC || !Number.isInteger(pid) || pid <= 0) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after "(comm) " start at field 3 (state): field 22 is the 20th.
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  } catch {
    return undefined;
  }
}
