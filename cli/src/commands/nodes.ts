import type { Command } from "commander";
import { unaryCall } from "@eas/proto";
import { scheduler } from "../client.js";
import type { CliContext } from "../context.js";
import { nodesTable } from "../format.js";
import { duration } from "../options.js";
import type { CommandGroup } from "./registry.js";

/** `nodes`: the scheduler's view of the cluster; `nodes reclaim`: a spot node's reclaim notice. */
export const nodesCommands: CommandGroup = {
  name: "nodes",
  register(program: Command, context: CliContext): void {
    const nodes = program
      .command("nodes")
      .description("list the nodes registered by agents (nodes reclaim: simulate a spot reclaim notice)")
      .action(async () => {
        const s = scheduler(context.globals().scheduler);
        const { nodes: listed } = await unaryCall(s, s.listNodes, {});
        context.print(listed, () => nodesTable(listed));
      });

    nodes
      .command("reclaim")
      .description("simulate the cloud's reclaim notice for a spot node: its instances move before the deadline")
      .argument("<node>", "spot node id")
      .requiredOption("--in <duration>", "time until the reclaim, e.g. 30s, 2m, 1500ms", duration)
      .option("--reason <words>", "who gives the notice, recorded in the event", "eas nodes reclaim")
      .action(async (nodeId: string, options: { in: number; reason: string }) => {
        const s = scheduler(context.globals().scheduler);
        const node = await unaryCall(s, s.reclaimNode, { nodeId, noticeMs: options.in, reason: options.reason });
        context.print(node, () => `node ${node.nodeId} is ${node.status}: reclaimed at ${node.reclaimDeadline}; its instances are moving`);
      });
  },
};
