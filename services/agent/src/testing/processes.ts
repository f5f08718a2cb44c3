import { readFileSync } from "node:fs";

/** A process that is gone or a zombie (this sandbox's init never reaps orphans) holds nothing. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}
