import { credentials } from "@grpc/grpc-js";
import { Command, InvalidArgumentError } from "commander";
import { MonitorClient, unaryCall, type LatestPoint, type QuerySeriesResponse } from "@eas/proto";
import type { CliContext } from "../context.js";
import { table } from "../format.js";
import { LiveHistory, renderLiveView, formatNumber } from "../monitor/live-view.js";
import { formatRule, parseDuration, parseRuleExpression } from "../monitor/rule-expression.js";
import type { CommandGroup } from "./registry.js";

const DEFAULT_MONITOR = process.env.EAS_MONITOR_ENDPOINT ?? "127.0.0.1:50055";

function durationOption(value: string): number {
  try {
    return parseDuration(value);
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
}

async function withMonitor<T>(address: string, call: (client: MonitorClient) => Promise<T>): Promise<T> {
  const client = new MonitorClient(address, credentials.createInsecure());
  try {
    return await call(client);
  } finally {
    client.close();
  }
}

/** `monitor`, `metrics` and `alert create|list|delete`: the monitor's live view, series and alert rules. */
export const monitorCommands: CommandGroup = {
  name: "monitor",
  register(program: Command, context: CliContext): void {
    registerMonitorCommands(program, () => context.globals().json);
  },
};

function registerMonitorCommands(program: Command, json: () => boolean): void {
  const monitorOption = (command: Command) => command.option("--monitor <host:port>", "monitor gRPC address", DEFAULT_MONITOR);

  monitorOption(
    program
      .command("monitor")
      .description("live view of a service, refreshed every second (with --json: one JSON sample per line)")
      .argument("<service>"),
  ).action(async (service: string, options: { monitor: string }) => {
    const client = new MonitorClient(options.monitor, credentials.createInsecure());
    const history = new LiveHistory();
    const stream = client.watchLatest({ service });
    const stop = () => stream.cancel();
    process.once("SIGINT", stop);
    await new Promise<void>((resolve, reject) => {
      stream.on("data", (point: LatestPoint) => {
        if (json()) {
          console.log(JSON.stringify(point));
          return;
        }
        history.push(point);
        process.stdout.write(`\x1b[H\x1b[2J${renderLiveView(service, history)}\n`);
      });
      stream.on("error", (error: { code?: number }) => (error.code === 1 ? resolve() : reject(error)));
      stream.on("end", () => resolve());
    });
    client.close();
  });

  monitorOption(
    program
      .command("metrics")
      .description("print a metric's series, e.g. eas metrics iris --metric p99 --since 10m")
      .argument("<service>")
      .option("-m, --metric <name...>", "metric names (qps, error_ratio, p50, p99, cpu, ...)", ["qps"])
      .option("--since <duration>", "how far back", durationOption, 600)
      .option("--step <duration>", "width of each point (default: 1s within the last hour, else 1m)", durationOption, 0)
      .option("--version <n>", "only this version", (v) => Number(v), 0)
      .option("--instance <id>", "only this instance", "")
      .option("--by <breakdown>", "one series per version or instance", ""),
  ).action(
    async (
      service: string,
      options: { monitor: string; metric: string[]; since: number; step: number; version: number; instance: string; by: string },
    ) => {
      const now = Date.now();
      const answer: QuerySeriesResponse = await withMonitor(options.monitor, (client) =>
        unaryCall(client, client.querySeries, {
          service,
          metrics: options.metric,
          fromMs: now - options.since * 1000,
          toMs: now,
          stepSeconds: options.step,
          version: options.version,
          instanceId: options.instance,
          breakdown: options.by,
        }),
      );
      if (json()) {
        console.log(JSON.stringify(answer, null, 2));
        return;
      }
      for (const series of answer.series) {
        const label = series.instanceId ? ` instance ${series.instanceId}` : series.version ? ` version ${series.version}` : "";
        console.log(`${series.metric} (${series.unit})${label}, step ${answer.stepSeconds}s`);
        console.log(
          table(
            ["Time", series.metric],
            series.points.map((p) => [new Date(p.timeMs).toISOString().replace("T", " ").slice(0, 19), formatNumber(p.value)]),
          ),
        );
      }
    },
  );

  const alert = program.command("alert").description("alert rules on a service's metrics, posted to a webhook when they fire and resolve");
  monitorOption(
    alert
      .command("create")
      .description('add a rule, e.g. eas alert create iris "p99 > 300ms for 30s" --webhook https://hooks.example/eas')
      .argument("<service>")
      .argument("<rule>", '"<metric> <op> <threshold>[ms|s|%] for <duration>"')
      .option("--webhook <url>", "where firing and resolved are POSTed as JSON", "")
      .option("-d, --description <text>", "what the rule means to you", ""),
  ).action(async (service: string, text: string, options: { monitor: string; webhook: string; description: string }) => {
    let rule;
    try {
      rule = parseRuleExpression(text);
    } catch (error) {
      throw new InvalidArgumentError((error as Error).message);
    }
    const created = await withMonitor(options.monitor, (client) =>
      unaryCall(client, client.createAlertRule, { service, ...rule, webhookUrl: options.webhook, description: options.description }),
    );
    if (json()) console.log(JSON.stringify(created, null, 2));
    else console.log(`created ${created.id}: ${created.service} ${formatRule(created)}`);
  });

  monitorOption(alert.command("list").description("rules, and which fire now").argument("[service]")).action(
    async (service: string | undefined, options: { monitor: string }) => {
      const [{ rules }, { alerts }] = await withMonitor(options.monitor, (client) =>
        Promise.all([
          unaryCall(client, client.listAlertRules, { service: service ?? "" }),
          unaryCall(client, client.listFiringAlerts, { service: service ?? "" }),
        ]),
      );
      const firing = new Map(alerts.map((a) => [a.rule!.id, a]));
      if (json()) {
        console.log(
          JSON.stringify(
            rules.map((rule) => ({ ...rule, firing: firing.get(rule.id) ?? null })),
            null,
            2,
          ),
        );
        return;
      }
      console.log(
        table(
          ["Id", "Service", "Rule", "Webhook", "State"],
          rules.map((rule) => {
            const alertNow = firing.get(rule.id);
            return [
              rule.id,
              rule.service,
              formatRule(rule),
              rule.webhookUrl || "-",
              alertNow ? `FIRING since ${alertNow.firedAt} (${formatNumber(alertNow.value)})` : "ok",
            ];
          }),
        ),
      );
    },
  );

  monitorOption(alert.command("delete").description("remove a rule (a firing one resolves first)").argument("<id>")).action(
    async (id: string, options: { monitor: string }) => {
      const deleted = await withMonitor(options.monitor, (client) => unaryCall(client, client.deleteAlertRule, { id }));
      if (json()) console.log(JSON.stringify(deleted, null, 2));
      else console.log(`deleted ${deleted.id}`);
    },
  );
}
