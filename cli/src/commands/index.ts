import { asyncCommands } from "./async.js";
import type { CommandGroup } from "./registry.js";
import { servicesCommands } from "./services.js";
import { invokeCommands } from "./invoke.js";
import { nodesCommands } from "./nodes.js";
import { instancesCommands } from "./instances.js";
import { uploadCommands } from "./upload.js";
import { eventsCommands } from "./events.js";
import { monitorCommands } from "./monitor.js";
import { autoscaleCommands } from "./autoscale.js";
import { cronscaleCommands } from "./cronscale.js";
import { billingCommands } from "./billing.js";
import { stressCommands } from "./stress.js";

export type { CommandGroup } from "./registry.js";

/** Every command group, in the order `eas --help` lists them. A new group is a module plus one line here. */
export const commandGroups: readonly CommandGroup[] = [
  servicesCommands,
  invokeCommands,
  nodesCommands,
  instancesCommands,
  uploadCommands,
  eventsCommands,
  asyncCommands,
  monitorCommands,
  autoscaleCommands,
  cronscaleCommands,
  billingCommands,
  stressCommands,
];
