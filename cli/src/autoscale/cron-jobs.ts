import type { CronScaleJob } from "@eas/proto";

/** `--job "<name>=<six-field schedule>=<size>[=<time zone>]"`, e.g. `up=0 0 8 * * *=5=Asia/Shanghai`. */
export function parseJobOption(text: string): CronScaleJob {
  const parts = text.split("=").map((part) => part.trim());
  if (parts.length < 3 || parts.length > 4) {
    throw new Error(
      `cannot read job "${text}": expected "<name>=<schedule>=<size>[=<time zone>]", e.g. "morning=0 0 8 * * *=5=Asia/Shanghai"`,
    );
  }
  const [name, schedule, size, timeZone] = parts as [string, string, string, string | undefined];
  const targetSize = Number(size);
  if (!Number.isInteger(targetSize) || targetSize < 0) throw new Error(`job "${name}": size must be a non-negative integer, got "${size}"`);
  return { name, schedule, targetSize, timeZone: timeZone ?? "" };
}

/** EAS's cron scaler JSON: `{"ScaleJobs": [{"Name", "Schedule", "TargetSize", "TimeZone"}], "ExcludeDates": [...]}`. */
export function parseEasCronJson(text: string): { jobs: CronScaleJob[]; excludeDates: string[] } {
  const raw = JSON.parse(text) as { ScaleJobs?: unknown; ExcludeDates?: unknown };
  if (!Array.isArray(raw.ScaleJobs)) throw new Error('expected {"ScaleJobs": [...], "ExcludeDates": [...]}');
  const jobs = raw.ScaleJobs.map((job: Record<string, unknown>, index) => {
    if (typeof job.Name !== "string" || typeof job.Schedule !== "string" || typeof job.TargetSize !== "number") {
      throw new Error(`ScaleJobs[${index}] needs Name, Schedule and TargetSize`);
    }
    return {
      name: job.Name,
      schedule: job.Schedule,
      targetSize: job.TargetSize,
      timeZone: typeof job.TimeZone === "string" ? job.TimeZone : "",
    };
  });
  const excludeDates = Array.isArray(raw.ExcludeDates) ? raw.ExcludeDates.map(String) : [];
  return { jobs, excludeDates };
}
