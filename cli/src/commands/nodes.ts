import type { Command } from "commander";
import { unaryCall } from "@eas/proto";
import { scheduler } from "../client.js";
import type { CliContext } from "../context.js";
import { table } from "../format.js";
import type { CommandGroup } from "./registry.js";

/** `nodes`: the scheduler's view of the cluster. */
export const nodesCommands: CommandGroup = {
  name: "nodes",
  register(program: Command, context: CliContext): void {
    program
      .command("nodes")
      .description("list the nodes registered by agents")
      .action(async () => {
        const s = scheduler(context.globals().scheduler);
        const { nodes } = await unaryCall(s, s.listNodes, {});
        context.print(nodes, () =>
          table(
            ["Node", "Status", "Group", "Spot", "CPU (m)", "Memory (MiB)", "GPU", "Instances", "Agent"],
            nodes.map((n) => [
              n.nodeId,
              n.status,
              n.resourceGroup || "public",
              n.spot ? "yes" : "no",
              `${n.allocated?.cpuMillis ?? 0}/${n.capacity?.cpuMillis ?? 0}`,
              `${n.allocated?.memoryMib ?? 0}/${n.capacity?.memoryMib ?? 0}`,
              `${n.allocated?.gpu ?? 0}/${n.capacity?.gpu ?? 0}`,
              n.instanceCount,
              n.agentAddress,
            ]),
          ),
        );
      });
  },
};
