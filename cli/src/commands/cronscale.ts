import { Command, InvalidArgumentError } from "commander";
import { unaryCall, type CronInfo, type CronScaleJob } from "@eas/proto";
import { parseEasCronJson, parseJobOption } from "../autoscale/cron-jobs.js";
import type { CliContext } from "../context.js";
import { table } from "../format.js";
import { readUserFile } from "../options.js";
import { withAutoscaler } from "./autoscale.js";
import type { CommandGroup } from "./registry.js";

const DEFAULT_AUTOSCALER = process.env.EAS_AUTOSCALER_ENDPOINT ?? "127.0.0.1:50053";

const jobOption = (value: string, previous: CronScaleJob[] = []): CronScaleJob[] => {
  try {
    return [...previous, parseJobOption(value)];
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
};
const collect = (value: string, previous: string[] = []) => [...previous, value];

function describeCron(info: CronInfo): string {
  return (
    table(
      ["Job", "Schedule", "Size", "Time zone", "State", "Last run", "Next run", "Message"],
      info.jobs.map((j) => [
        j.job!.name,
        j.job!.schedule,
        j.job!.targetSize,
        j.job!.timeZone,
        j.state,
        j.lastRunAt ? `${j.lastRunAt} (for ${j.lastScheduledAt})` : "-",
        j.nextRunAt || "-",
        j.message || "",
      ]),
    ) + (info.excludeDates.length > 0 ? `\nExcluded dates: ${info.excludeDates.join(", ")}` : "")
  );
}

/** `cronscale`: a service's scheduled scaling jobs (EAS cron scaler). */
export const cronscaleCommands: CommandGroup = {
  name: "cronscale",
  register(program: Command, context: CliContext): void {
    program
      .command("cronscale")
      .description('scheduled scaling: eas cronscale iris --job "morning=0 0 8 * * *=5=Asia/Shanghai" --job "night=0 0 20 * * *=1"')
      .argument("<service>")
      .option("--autoscaler <host:port>", "autoscaler gRPC address", DEFAULT_AUTOSCALER)
      .option("--job <name=schedule=size[=zone]>", "a job (repeat for several); the schedule has six fields, seconds first", jobOption)
      .option("--exclude <YYYY-MM-DD>", "a date on which no job runs (repeat for several)", collect)
      .option("-f, --file <file>", 'EAS cron scaler JSON: {"ScaleJobs": [...], "ExcludeDates": [...]}')
      .option("--show", "print the jobs with their last run, state, message and next run")
      .option("--delete", "remove every job")
      .action(
        async (
          service: string,
          options: { autoscaler: string; job?: CronScaleJob[]; exclude?: string[]; file?: string; show?: boolean; delete?: boolean },
        ) => {
          const info = await withAutoscaler(options.autoscaler, async (client) => {
            if (options.delete) return unaryCall(client, client.deleteCronJobs, { service });
            if (options.file) {
              let parsed;
              try {
                parsed = parseEasCronJson(readUserFile(options.file));
              } catch (error) {
                throw new InvalidArgumentError(`${options.file}: ${(error as Error).message}`);
              }
              return unaryCall(client, client.setCronJobs, { service, ...parsed });
            }
            if (options.job)
              return unaryCall(client, client.setCronJobs, { service, jobs: options.job, excludeDates: options.exclude ?? [] });
            return unaryCall(client, client.getCronJobs, { service });
          });
          if (options.delete) context.print(info, () => `deleted the scheduled scaling jobs of ${service}`);
          else context.print(info, () => describeCron(info));
        },
      );
  },
};
