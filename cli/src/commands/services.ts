import type { Command } from "commander";
import { unaryCall, type ServiceInfo } from "@eas/proto";
import { CliError } from "../client.js";
import type { CliContext } from "../context.js";
import { describeService, progressLine, table } from "../format.js";
import { positiveInt, readUserFile, withWaitOptions, type WaitOptions } from "../options.js";
import type { CommandGroup } from "./registry.js";

/** Polls the service until it is Running or Failed, printing each status change, as EASCMD does. */
async function waitForConvergence(context: CliContext, name: string, timeoutSeconds: number): Promise<ServiceInfo> {
  const deadline = Date.now() + timeoutSeconds * 1000;
  let last = "";
  const sm = context.serviceManager();
  for (;;) {
    const info = await unaryCall(sm, sm.getService, { name });
    const line = progressLine(info);
    if (line !== last && !context.globals().json) console.log(line);
    last = line;
    if (info.status === "Running" || info.status === "Stopped") return info;
    if (info.status === "Failed") throw new CliError(`service ${name} failed: ${info.reason}`);
    if (Date.now() > deadline) throw new CliError(`service ${name} not Running after ${timeoutSeconds}s: ${line}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** Prints what the deployer says about the spec it was sent (fields recorded but not acted on), on stderr. */
function printWarnings(info: ServiceInfo): void {
  for (const warning of info.warnings) console.error(`warning: ${warning}`);
}

/** The service lifecycle through the deployer's ServiceManager: create, modify, desc, list, scale, versions... */
export const servicesCommands: CommandGroup = {
  name: "services",
  register(program: Command, context: CliContext): void {
    const { print } = context;
    const waitIfAsked = (name: string, info: ServiceInfo, options: WaitOptions) =>
      options.wait ? waitForConvergence(context, name, options.timeout) : Promise.resolve(info);

    withWaitOptions(
      program
        .command("create")
        .description("create a service from a service.json / service.yaml file")
        .argument("<file>", "service spec (JSON or YAML)"),
    ).action(async (file: string, options: WaitOptions) => {
      const sm = context.serviceManager();
      const info = await unaryCall(sm, sm.createService, { spec: readUserFile(file) });
      printWarnings(info);
      if (!context.globals().json) console.log(`Service ${info.name} created (version ${info.currentVersion}).`);
      const final = { ...(await waitIfAsked(info.name, info, options)), warnings: info.warnings };
      print(final, () => describeService(final));
    });

    withWaitOptions(
      program
        .command("modify")
        .description("update a service: a new version from a full or partial spec file")
        .argument("<name>")
        .requiredOption("-f, --file <file>", "spec file (partial with merge)")
        .option("--replace", "replace the whole spec instead of merging", false),
    ).action(async (name: string, options: WaitOptions & { file: string; replace: boolean }) => {
      const sm = context.serviceManager();
      const info = await unaryCall(sm, sm.updateService, {
        name,
        spec: readUserFile(options.file),
        updateType: options.replace ? "replace" : "merge",
      });
      printWarnings(info);
      if (!context.globals().json) console.log(`Service ${name} updated to version ${info.latestVersion}.`);
      const final = { ...(await waitIfAsked(name, info, options)), warnings: info.warnings };
      print(final, () => describeService(final));
    });

    program
      .command("desc")
      .description("show a service: status, instances, endpoint and token")
      .argument("<name>")
      .action(async (name: string) => {
        const sm = context.serviceManager();
        const info = await unaryCall(sm, sm.getService, { name });
        print(info, () => describeService(info));
      });

    program
      .command("list")
      .alias("ls")
      .description("list services")
      .action(async () => {
        const sm = context.serviceManager();
        const { services } = await unaryCall(sm, sm.listServices, {});
        print(services, () =>
          services.length === 0
            ? "no services"
            : table(
                ["Name", "Status", "Version", "Running", "Desired", "Endpoint"],
                services.map((s) => [s.name, s.status, s.currentVersion, s.runningInstances, s.desiredInstances, s.endpoint]),
              ),
        );
      });

    for (const [verb, method, description] of [
      ["delete", "deleteService", "delete a service and stop its instances"],
      ["start", "startService", "start a stopped service"],
      ["stop", "stopService", "stop a service's instances, keeping its spec"],
    ] as const) {
      program
        .command(verb)
        .description(description)
        .argument("<name>")
        .action(async (name: string) => {
          const sm = context.serviceManager();
          const info = await unaryCall(sm, sm[method], { name });
          print(info, () => `${verb}: ${info.name} is ${info.status}${info.reason ? ` (${info.reason})` : ""}`);
        });
    }

    withWaitOptions(
      program
        .command("scale")
        .description("set the number of instances")
        .argument("<name>")
        .argument("<replicas>", "instances", positiveInt),
    ).action(async (name: string, replicas: number, options: WaitOptions) => {
      const sm = context.serviceManager();
      const info = await unaryCall(sm, sm.scaleService, { name, replicas, cause: "user", reason: "" });
      const final = await waitIfAsked(name, info, options);
      print(final, () => `${name} scaled to ${replicas}: ${progressLine(final)}`);
    });

    program
      .command("versions")
      .description("list a service's versions")
      .argument("<name>")
      .action(async (name: string) => {
        const sm = context.serviceManager();
        const { versions } = await unaryCall(sm, sm.listVersions, { name });
        print(versions, () =>
          table(
            ["Version", "Current", "Created"],
            versions.map((v) => [v.version, v.current ? "*" : "", v.createdAt]),
          ),
        );
      });

    withWaitOptions(
      program
        .command("rollback")
        .description("run an earlier version again")
        .argument("<name>")
        .argument("<version>", "version number", positiveInt),
    ).action(async (name: string, version: number, options: WaitOptions) => {
      const sm = context.serviceManager();
      const info = await unaryCall(sm, sm.rollbackService, { name, version });
      const final = await waitIfAsked(name, info, options);
      print(final, () => `${name} rolled back to version ${version}: ${progressLine(final)}`);
    });
  },
};
