import type { Command } from "commander";
import { status, type ServiceError } from "@grpc/grpc-js";
import { unaryCall } from "@eas/proto";
import { CliError } from "../client.js";
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
        const { service } = options;
        // Following a service needs the service; listing one also works for a deleted service, from its events.
        const exists =
          service === undefined ||
          (await unaryCall(sm, sm.getService, { name: service }).then(
            () => true,
            (error: ServiceError) => {
              if (error.code === status.NOT_FOUND && !options.follow) return false;
              throw error;
            },
          ));
        const stream = sm.watchEvents({ fromPosition: options.from, typePrefix: options.type ?? "", follow: options.follow });
        let matched = 0;
        await new Promise<void>((resolve, reject) => {
          stream.on("data", (record: EventRecord) => {
            const data = JSON.parse(record.dataJson) as Record<string, unknown>;
            if (service !== undefined && !concernsService(data, service)) return;
            matched++;
            if (context.globals().json) console.log(JSON.stringify({ ...record, data }));
            else console.log(eventLine(record, data));
          });
          stream.on("error", reject);
          stream.on("end", () => resolve());
        });
        if (!exists && matched === 0) throw new CliError(`service ${service} not found (no event in the log names it)`);
      });
  },
};
