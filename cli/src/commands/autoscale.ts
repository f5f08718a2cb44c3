import { credentials } from "@grpc/grpc-js";
import { Command, InvalidArgumentError } from "commander";
import { AutoscalerClient, unaryCall, type PolicyInfo, type ScalingPolicy } from "@eas/proto";
import type { CliContext } from "../context.js";
import { table } from "../format.js";
import { parseDuration } from "../monitor/rule-expression.js";
import { readUserFile } from "../options.js";
import type { CommandGroup } from "./registry.js";

const DEFAULT_AUTOSCALER = process.env.EAS_AUTOSCALER_ENDPOINT ?? "127.0.0.1:50053";

const number = (value: string): number => {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError("must be a non-negative number");
  return n;
};
const seconds = (value: string): number => {
  try {
    return parseDuration(value);
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
};

/** Runs `call` with an Autoscaler client at `address`, closed afterwards. */
export async function withAutoscaler<T>(address: string, call: (client: AutoscalerClient) => Promise<T>): Promise<T> {
  const client = new AutoscalerClient(address, credentials.createInsecure());
  try {
    return await call(client);
  } finally {
    client.close();
  }
}

interface AutoscaleOptions {
  autoscaler: string;
  show?: boolean;
  delete?: boolean;
  file?: string;
  min?: number;
  max?: number;
  qps?: number;
  cpu?: number;
  concurrency?: number;
  backlog?: number;
  stableWindow?: number;
  panicWindow?: number;
  panicThreshold?: number;
  tolerance?: number;
  scaleUpWindow?: number;
  scaleDownWindow?: number;
  zeroGrace?: number;
  activation?: number;
}

/** The flags a user gave, as policy fields (the rest keep the current policy's values, or the defaults). */
function flagsToPolicy(options: AutoscaleOptions): ScalingPolicy {
  const fields: [keyof ScalingPolicy, number | undefined][] = [
    ["minReplicas", options.min],
    ["maxReplicas", options.max],
    ["targetQps", options.qps],
    ["targetCpuPercent", options.cpu],
    ["targetConcurrency", options.concurrency],
    ["targetBacklog", options.backlog],
    ["stableWindowSeconds", options.stableWindow],
    ["panicWindowSeconds", options.panicWindow],
    ["panicThreshold", options.panicThreshold],
    ["tolerance", options.tolerance],
    ["scaleUpStabilizationSeconds", options.scaleUpWindow],
    ["scaleDownStabilizationSeconds", options.scaleDownWindow],
    ["scaleToZeroGraceSeconds", options.zeroGrace],
    ["activationReplicas", options.activation],
  ];
  return Object.fromEntries(fields.filter(([, value]) => value !== undefined)) as ScalingPolicy;
}

export function describePolicyInfo(info: PolicyInfo): string {
  const p = info.policy!;
  const targets = [
    p.targetQps ? `qps ${p.targetQps}` : "",
    p.targetCpuPercent ? `cpu ${p.targetCpuPercent}%` : "",
    p.targetConcurrency ? `concurrency ${p.targetConcurrency}` : "",
    p.targetBacklog ? `backlog ${p.targetBacklog}` : "",
  ].filter(Boolean);
  const status = info.status;
  const rows: [string, string][] = [
    ["Service", info.service],
    ["Replicas", `min ${p.minReplicas}, max ${p.maxReplicas}${status?.cronFloor ? `, cron floor ${status.cronFloor}` : ""}`],
    ["Targets per instance", targets.join(", ")],
    ["Windows", `stable ${p.stableWindowSeconds}s, panic ${p.panicWindowSeconds}s (at ${p.panicThreshold}x), tolerance ${p.tolerance}`],
    ["Stabilization", `up ${p.scaleUpStabilizationSeconds}s, down ${p.scaleDownStabilizationSeconds}s`],
    [
      "Scale to zero",
      p.minReplicas === 0 ? `after ${p.scaleToZeroGraceSeconds}s idle; ${p.activationReplicas} on the first request` : "off (min > 0)",
    ],
    ["Now", status ? `${status.desiredReplicas} desired, ${status.readyInstances} ready${status.mode ? `, ${status.mode}` : ""}` : ""],
    [
      "Readings",
      (status?.readings ?? []).map((r) => `${r.metric} ${Number(r.observed.toFixed(2))} (wants ${r.desired})`).join(", ") || "-",
    ],
    [
      "Last decision",
      status?.lastDecision
        ? `${status.lastDecision.decidedAt}: ${status.lastDecision.fromReplicas} -> ${status.lastDecision.toReplicas} (${status.lastDecision.mode}) ${status.lastDecision.reason}`
        : "-",
    ],
    ["Set at", info.setAt],
  ];
  return table(["", ""], rows);
}

/** `autoscale`: a service's autoscaling policy through the Autoscaler API. */
export const autoscaleCommands: CommandGroup = {
  name: "autoscale",
  register(program: Command, context: CliContext): void {
    program
      .command("autoscale")
      .description("set, show or delete a service's autoscaling policy, e.g. eas autoscale iris --min 1 --max 10 --qps 100")
      .argument("<service>")
      .option("--autoscaler <host:port>", "autoscaler gRPC address", DEFAULT_AUTOSCALER)
      .option("--show", "print the policy, the current readings and the last decision")
      .option("--delete", "remove the policy (the replica count stays where it is)")
      .option("-f, --file <file>", "EAS autoscaler JSON: {min, max, scaleStrategies, behavior}")
      .option("--min <n>", "fewest replicas (0 allows scale to zero)", number)
      .option("--max <n>", "most replicas", number)
      .option("--qps <n>", "target requests per second per instance", number)
      .option("--cpu <percent>", "target CPU per instance, percent of what it requests", number)
      .option("--concurrency <n>", "target requests in flight or queued per instance", number)
      .option("--backlog <n>", "target queued work items per instance (async services)", number)
      .option("--stable-window <duration>", "window of the normal mode, e.g. 30s", seconds)
      .option("--panic-window <duration>", "window of the panic mode, e.g. 2s", seconds)
      .option("--panic-threshold <ratio>", "panic when the panic window asks for this many times the ready instances", number)
      .option("--tolerance <fraction>", "no change within this fraction of the target, e.g. 0.1", number)
      .option("--scale-up-window <duration>", "scale-up stabilization window", seconds)
      .option("--scale-down-window <duration>", "scale-down stabilization window", seconds)
      .option("--zero-grace <duration>", "idle time before scaling to zero (with --min 0)", seconds)
      .option("--activation <n>", "instances started when a request arrives at zero", number)
      .action(async (service: string, options: AutoscaleOptions) => {
        const info = await withAutoscaler(options.autoscaler, async (client) => {
          if (options.delete) return unaryCall(client, client.deletePolicy, { service });
          const flags = flagsToPolicy(options);
          if (options.show || (!options.file && Object.keys(flags).length === 0)) return unaryCall(client, client.getPolicy, { service });
          if (options.file) return unaryCall(client, client.setPolicy, { service, easJson: readUserFile(options.file), policy: undefined });
          // Flags change the current policy: `eas autoscale iris --max 20` keeps the rest.
          const current = await unaryCall(client, client.getPolicy, { service }).catch(() => undefined);
          return unaryCall(client, client.setPolicy, { service, policy: { ...current?.policy, ...flags }, easJson: "" });
        });
        if (options.delete) {
          context.print(
            info,
            () => `deleted the autoscaling policy of ${service} (the replica count stays at ${info.status?.desiredReplicas ?? "?"})`,
          );
          return;
        }
        context.print(info, () => describePolicyInfo(info));
      });
  },
};
