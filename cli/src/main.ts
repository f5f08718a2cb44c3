import { readFileSync } from "node:fs";
import { Command, InvalidArgumentError } from "commander";
import { connect } from "@nats-io/transport-node";
import { uploadToObjectStore } from "@eas/object-store";
import { unaryCall, type ServiceInfo, type ServiceManagerClient } from "@eas/proto";
import { agentAddresses, CliError, describeError, scheduler, serviceManager, withAgent } from "./client.js";
import { concernsService, describeService, eventLine, formatLogs, progressLine, table, usageTable, type InstanceUsage } from "./format.js";
import { registerMonitorCommands } from "./monitor/commands.js";

const program = new Command();
program
  .name("eas")
  .description("EAS command line: deploy models as online inference services and manage them")
  .option("-e, --endpoint <host:port>", "deployer gRPC address", process.env.EAS_ENDPOINT ?? "127.0.0.1:50051")
  .option("--scheduler <host:port>", "scheduler gRPC address", process.env.EAS_SCHEDULER_ENDPOINT ?? "127.0.0.1:50052")
  .option("--json", "print JSON instead of tables", false)
  .showHelpAfterError();

interface GlobalOptions {
  endpoint: string;
  scheduler: string;
  json: boolean;
}
const globals = () => program.opts<GlobalOptions>();
const client = (): ServiceManagerClient => serviceManager(globals().endpoint);

function print(value: unknown, text: () => string): void {
  console.log(globals().json ? JSON.stringify(value, null, 2) : text());
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError("must be a non-negative integer");
  return n;
}

function lineCount(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 1000) throw new InvalidArgumentError("must be an integer from 1 to 1000");
  return n;
}

function readSpecFile(file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch (error) {
    throw new CliError(`cannot read ${file}: ${(error as Error).message}`);
  }
}

/** Polls the service until it is Running or Failed, printing each status change, as EASCMD does. */
async function waitForConvergence(name: string, timeoutSeconds: number): Promise<ServiceInfo> {
  const deadline = Date.now() + timeoutSeconds * 1000;
  let last = "";
  const sm = client();
  for (;;) {
    const info = await unaryCall(sm, sm.getService, { name });
    const line = progressLine(info);
    if (line !== last && !globals().json) console.log(line);
    last = line;
    if (info.status === "Running" || info.status === "Stopped") return info;
    if (info.status === "Failed") throw new CliError(`service ${name} failed: ${info.reason}`);
    if (Date.now() > deadline) throw new CliError(`service ${name} not Running after ${timeoutSeconds}s: ${line}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

const waitOptions = (command: Command) =>
  command
    .option("--no-wait", "return at once instead of waiting until Running")
    .option("--timeout <seconds>", "how long to wait", positiveInt, 300);

waitOptions(
  program
    .command("create")
    .description("create a service from a service.json / service.yaml file")
    .argument("<file>", "service spec (JSON or YAML)"),
).action(async (file: string, options: { wait: boolean; timeout: number }) => {
  const sm = client();
  const info = await unaryCall(sm, sm.createService, { spec: readSpecFile(file) });
  if (!globals().json) console.log(`Service ${info.name} created (version ${info.currentVersion}).`);
  const final = options.wait ? await waitForConvergence(info.name, options.timeout) : info;
  print(final, () => describeService(final));
});

waitOptions(
  program
    .command("modify")
    .description("update a service: a new version from a full or partial spec file")
    .argument("<name>")
    .requiredOption("-f, --file <file>", "spec file (partial with merge)")
    .option("--replace", "replace the whole spec instead of merging", false),
).action(async (name: string, options: { file: string; replace: boolean; wait: boolean; timeout: number }) => {
  const sm = client();
  const info = await unaryCall(sm, sm.updateService, {
    name,
    spec: readSpecFile(options.file),
    updateType: options.replace ? "replace" : "merge",
  });
  if (!globals().json) console.log(`Service ${name} updated to version ${info.latestVersion}.`);
  const final = options.wait ? await waitForConvergence(name, options.timeout) : info;
  print(final, () => describeService(final));
});

program
  .command("desc")
  .description("show a service: status, instances, endpoint and token")
  .argument("<name>")
  .action(async (name: string) => {
    const sm = client();
    const info = await unaryCall(sm, sm.getService, { name });
    print(info, () => describeService(info));
  });

program
  .command("list")
  .alias("ls")
  .description("list services")
  .action(async () => {
    const sm = client();
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
      const sm = client();
      const info = await unaryCall(sm, sm[method], { name });
      print(info, () => `${verb}: ${info.name} is ${info.status}`);
    });
}

waitOptions(
  program.command("scale").description("set the number of instances").argument("<name>").argument("<replicas>", "instances", positiveInt),
).action(async (name: string, replicas: number, options: { wait: boolean; timeout: number }) => {
  const sm = client();
  const info = await unaryCall(sm, sm.scaleService, { name, replicas });
  const final = options.wait ? await waitForConvergence(name, options.timeout) : info;
  print(final, () => `${name} scaled to ${replicas}: ${progressLine(final)}`);
});

program
  .command("versions")
  .description("list a service's versions")
  .argument("<name>")
  .action(async (name: string) => {
    const sm = client();
    const { versions } = await unaryCall(sm, sm.listVersions, { name });
    print(versions, () =>
      table(
        ["Version", "Current", "Created"],
        versions.map((v) => [v.version, v.current ? "*" : "", v.createdAt]),
      ),
    );
  });

waitOptions(
  program
    .command("rollback")
    .description("run an earlier version again")
    .argument("<name>")
    .argument("<version>", "version number", positiveInt),
).action(async (name: string, version: number, options: { wait: boolean; timeout: number }) => {
  const sm = client();
  const info = await unaryCall(sm, sm.rollbackService, { name, version });
  const final = options.wait ? await waitForConvergence(name, options.timeout) : info;
  print(final, () => `${name} rolled back to version ${version}: ${progressLine(final)}`);
});

program
  .command("nodes")
  .description("list the nodes registered by agents")
  .action(async () => {
    const s = scheduler(globals().scheduler);
    const { nodes } = await unaryCall(s, s.listNodes, {});
    print(nodes, () =>
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

program
  .command("logs")
  .description("the last lines each instance of a service wrote on stdout and stderr, from its agent")
  .argument("<service>")
  .option("-i, --instance <id>", "only this instance")
  .option("-n, --tail <lines>", "how many of the last lines per instance (1 to 1000)", lineCount, 100)
  .action(async (service: string, options: { instance?: string; tail: number }) => {
    const sm = client();
    const info = await unaryCall(sm, sm.getService, { name: service });
    const instances = info.instances.filter((i) => i.nodeId && (options.instance === undefined || i.instanceId === options.instance));
    if (instances.length === 0) {
      throw new CliError(
        options.instance
          ? `service ${service} has no instance ${options.instance} on a node`
          : `service ${service} has no instances on a node`,
      );
    }
    const agentOf = await agentAddresses(globals().scheduler);
    const logs = await Promise.all(
      instances.map(async (instance) => {
        const address = agentOf.get(instance.nodeId);
        if (!address) return { instanceId: instance.instanceId, error: `node ${instance.nodeId} is lost or not registered`, lines: [] };
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
    print(logs, () => formatLogs(logs));
  });

program
  .command("top")
  .description("CPU and memory of each running instance, as its agent measures them")
  .argument("[service]", "only this service's instances")
  .action(async (service: string | undefined) => {
    const perNode = await Promise.all(
      [...(await agentAddresses(globals().scheduler))].map(async ([nodeId, address]): Promise<InstanceUsage[]> => {
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
    if (service !== undefined && rows.length === 0 && !globals().json) console.error(`no running instances of ${service}`);
    print(rows, () => usageTable(rows));
  });

program
  .command("upload")
  .description("upload a file or folder to the built-in object store (NATS Object Store)")
  .argument("<path>", "local file or folder")
  .argument("<destination>", "obj://bucket/key")
  .option("--nats <url>", "NATS server", process.env.NATS_URL ?? "nats://127.0.0.1:4222")
  .action(async (path: string, destination: string, options: { nats: string }) => {
    const nc = await connect({ servers: options.nats.split(","), name: "eas-cli" }).catch((error: unknown) => {
      throw new CliError(`cannot reach NATS at ${options.nats}: ${(error as Error).message}`);
    });
    try {
      const objects = await uploadToObjectStore(nc, path, destination);
      print(objects, () =>
        table(
          ["Object", "Bytes", "Digest"],
          objects.map((o) => [o.name, o.size, o.digest]),
        ),
      );
    } finally {
      await nc.close();
    }
  });

program
  .command("invoke")
  .description("send a request to a service through the gateway, with its token")
  .argument("<name>")
  .option("-d, --data <body>", "request body", "")
  .option("-f, --file <file>", "read the request body from a file")
  .option("-p, --path <subpath>", "sub path after /api/predict/<name>", "")
  .option("-X, --method <method>", "HTTP method", "POST")
  .action(async (name: string, options: { data: string; file?: string; path: string; method: string }) => {
    const sm = client();
    const info = await unaryCall(sm, sm.getService, { name });
    const body = options.file ? readSpecFile(options.file) : options.data;
    const url = `${info.endpoint}${options.path ? `/${options.path.replace(/^\//, "")}` : ""}`;
    const response = await fetch(url, {
      method: options.method,
      headers: { Authorization: info.token, "Content-Type": "application/json" },
      ...(options.method === "GET" || options.method === "HEAD" ? {} : { body }),
    }).catch((error: unknown) => {
      throw new CliError(`cannot reach the gateway at ${info.endpoint}: ${(error as Error).message}`);
    });
    const text = await response.text();
    if (globals().json) console.log(JSON.stringify({ status: response.status, body: text }));
    else console.log(text);
    if (!response.ok) throw new CliError(`HTTP ${response.status}`);
  });

program
  .command("events")
  .description("print lifecycle events from the log")
  .option("-f, --follow", "keep streaming new events", false)
  .option("--from <position>", "start after this log position", positiveInt, 0)
  .option("--type <prefix>", "only event types starting with this, e.g. eas.v1.Service")
  .option("-s, --service <name>", "only events of this service and its instances")
  .action(async (options: { follow: boolean; from: number; type?: string; service?: string }) => {
    const sm = client();
    const stream = sm.watchEvents({ fromPosition: options.from, typePrefix: options.type ?? "", follow: options.follow });
    await new Promise<void>((resolve, reject) => {
      stream.on("data", (record: { position: number; time: string; type: string; stream: string; dataJson: string }) => {
        const data = JSON.parse(record.dataJson) as Record<string, unknown>;
        if (options.service !== undefined && !concernsService(data, options.service)) return;
        if (globals().json) console.log(JSON.stringify({ ...record, data }));
        else console.log(eventLine(record, data));
      });
      stream.on("error", reject);
      stream.on("end", () => resolve());
    });
  });

registerMonitorCommands(program, () => globals().json);

try {
  await program.parseAsync();
  process.exit(0);
} catch (error) {
  console.error(`error: ${describeError(error, globals().endpoint)}`);
  process.exit(1);
}
