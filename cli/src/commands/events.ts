import type { Command } from "commander";
import type { CliContext } from "../context.js";
import { concernsService, eventLine } from "../format.js";
import { positiveInt } from "../options.js";
import type { CommandGroup } from "./registry.js";

interface EventRecord {
  position: number;
  time: string;
  type: string;
  stream: string;
  dataJson: string;
}

/** `events`: the lifecycle events from the log, through the deployer's WatchEvents. */
export const eventsCommands: CommandGroup = {
  name: "events",
  register(program: Command, context: CliContext): void {
    program
      .command("events")
      .description("print lifecycle events from the log")
      .option("-f, --follow", "keep streaming new events", false)
      .option("--from <position>", "start after this log position", positiveInt, 0)
      .option("--type <prefix>", "only event types starting with this, e.g. eas.v1.Service")
      .option("-s, --service <name>", "only events of this service and its instances")
      .action(async (options: { follow: boolean; from: number; type?: string; service?: string }) => {
        const sm = context.serviceManager();
        const stream = sm.watchEvents({ fromPosition: options.from, typePrefix: options.type ?? "", follow: options.follow });
        await new Promise<void>((resolve, reject) => {
          stream.on("data", (record: EventRecord) => {
            const data = JSON.parse(record.dataJson) as Record<string, unknown>;
            if (options.service !== undefined && !concernsService(data, options.service)) return;
            if (context.globals().json) console.log(JSON.stringify({ ...record, data }));
            else console.log(eventLine(record, data));
          });
          stream.on("error", reject);
          stream.on("end", () => resolve());
        });
      });
  },
};
