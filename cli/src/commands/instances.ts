import type { Command } from "commander";
import { unaryCall } from "@eas/proto";
import { agentAddresses, CliError, describeError, withAgent } from "../client.js";
import type { CliContext } from "../context.js";
import { formatLogs, usageTable, type InstanceUsage } from "../format.js";
import { lineCount } from "../options.js";
import type { CommandGroup } from "./registry.js";

/** `logs` and `top`: what the agents know about the instances they run. */
export const instancesCommands: CommandGroup = {
  name: "instances",
  register(program: Command, context: CliContext): void {
    program
      .command("logs")
      .description("the last lines each instance of a service wrote on stdout and stderr, from its agent")
      .argument("<service>")
      .option("-i, --instance <id>", "only this instance")
      .option("-n, --tail <lines>", "how many of the last lines per instance (1 to 1000)", lineCount, 100)
      .action(async (service: string, options: { instance?: string; tail: number }) => {
        const sm = context.serviceManager();
        const info = await unaryCall(sm, sm.getService, { name: service });
        const instances = info.instances.filter((i) => i.nodeId && (options.instance === undefined || i.instanceId === options.instance));
        if (instances.length === 0) {
          throw new CliError(
            options.instance
              ? `service ${service} has no instance ${options.instance} on a node`
              : `service ${service} has no instances on a node`,
          );
        }
        const agentOf = await agentAddresses(context.globals().scheduler);
        const logs = await Promise.all(
          instances.map(async (instance) => {
            const address = agentOf.get(instance.nodeId);
            if (!address)
              return {
                instanceId: instance.instanceId,
                error: `node ${instance.nodeId} is lost, or its agent has not connected since the scheduler started`,
                lines: [],
              };
            try {
              const { lines } = await withAgent(address, (a) =>
                unaryCall(a, a.instanceLogs, { instanceId: instance.instanceId, lines: options.tail }, 5_000),
              );
              return { instanceId: instance.instanceId, lines };
            } catch (error) {
              return { instanceId: instance.instanceId, error: describeError(error, address), lines: [] };
            }
          }),
        );
        context.print(logs, () => formatLogs(logs));
      });

    program
      .command("top")
      .description("CPU and memory of each running instance, as its agent measures them")
      .argument("[service]", "only this service's instances")
      .action(async (service: string | undefined) => {
        // An unknown service is an error (NOT_FOUND naming it), not an empty table.
        if (service !== undefined) {
          const sm = context.serviceManager();
          await unaryCall(sm, sm.getService, { name: service });
        }
        const perNode = await Promise.all(
          [...(await agentAddresses(context.globals().scheduler))].map(async ([nodeId, address]): Promise<InstanceUsage[]> => {
            try {
              const { instances } = await withAgent(address, (a) => unaryCall(a, a.listInstances, {}, 5_000));
              return instances.map((i) => ({ ...i, nodeId }));
            } catch (error) {
              console.error(`node ${nodeId}: ${describeError(error, address)}`);
              return [];
            }
          }),
        );
        const rows = perNode
          .flat()
          .filter((i) => (service === undefined || i.service === service) && i.status !== "Stopped" && i.status !== "Failed")
          .sort((a, b) => a.service.localeCompare(b.service) || a.instanceId.localeCompare(b.instanceId));
        if (service !== undefined && rows.length === 0 && !context.globals().json) console.error(`no running instances of ${service}`);
        context.print(rows, () => usageTable(rows));
      });
  },
};
