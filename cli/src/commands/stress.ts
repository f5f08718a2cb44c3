import { readFile } from "node:fs/promises";
import { dirname, isAbsolute, resolve } from "node:path";
import { credentials } from "@grpc/grpc-js";
import type { Command } from "commander";
import { StressClient, unaryCall, type StressTaskInfo, type StressUpdate } from "@eas/proto";
import { CliError } from "../client.js";
import type { CliContext } from "../context.js";
import { table } from "../format.js";
import { LIVE_HEADER, liveLine, modeLabel, stepRow, summaryRows } from "../stress/format.js";
import type { CommandGroup } from "./registry.js";

const DEFAULT_MONITOR = process.env.EAS_MONITOR_ENDPOINT ?? "127.0.0.1:50055";
const ENDED = new Set(["Completed", "Stopped", "Failed"]);

async function withStress<T>(address: string, call: (client: StressClient) => Promise<T>): Promise<T> {
  const client = new StressClient(address, credentials.createInsecure());
  try {
    return await call(client);
  } finally {
    client.close();
  }
}

/**
 * The request bodies a task names as a local file (`data.path` without `obj://`): read here, relative to
 * the task file, and sent with the task; the monitor stores them in the object store.
 */
async function localData(taskFile: string, text: string): Promise<Buffer> {
  let document: { data?: { path?: unknown } };
  try {
    document = JSON.parse(text) as typeof document;
  } catch (error) {
    throw new CliError(`${taskFile}: not valid JSON: ${(error as Error).message}`);
  }
  const path = document?.data?.path;
  if (typeof path !== "string" || path === "" || path.startsWith("obj://")) return Buffer.alloc(0);
  const file = isAbsolute(path) ? path : resolve(dirname(taskFile), path);
  try {
    return await readFile(file);
  } catch {
    throw new CliError(`data.path: no such file ${file} (nothing was started)`);
  }
}

function describeTask(info: StressTaskInfo): string {
  const spec = info.spec;
  const rows: Array<[string, string]> = [
    ["Task", info.id + (spec?.name ? ` (${spec.name})` : "")],
    ["Service", `${spec?.serviceName ?? ""} via ${spec?.endpointType ?? ""}`],
    ["Mode", modeLabel(info)],
    ["Status", info.status + (info.reason ? `: ${info.reason}` : "")],
    ["Workers", `${spec?.agentCount ?? 0} (${info.workerService})`],
    ["Created", info.createdAt],
    ...summaryRows(info.summary),
  ];
  if (info.reportHtmlUrl) rows.push(["Report", `${info.reportHtmlUrl} (eas stress report ${info.id} --open)`]);
  let text = table(["", ""], rows);
  if (info.steps.length > 0)
    text += `\n${table(["Step", "Offered", "Achieved", "p50 ms", "p99 ms", "Errors", "Verdict"], info.steps.map(stepRow))}`;
  return text;
}

/** Follows a task until it ends: one line a second, then its summary. */
async function follow(client: StressClient, id: string, json: boolean): Promise<StressTaskInfo | undefined> {
  const stream = client.watchTask({ id });
  process.once("SIGINT", () => stream.cancel());
  let last: StressTaskInfo | undefined;
  let headerShown = false;
  await new Promise<void>((resolvePromise, reject) => {
    stream.on("data", (update: StressUpdate) => {
      if (json) {
        console.log(JSON.stringify(update.update?.value));
        if (update.update?.$case === "task") last = update.update.value;
        return;
      }
      if (update.update?.$case === "task") {
        const info = update.update.value;
        if (!last || last.status !== info.status)
          console.log(`# ${info.id} ${modeLabel(info)}: ${info.status}${info.reason ? ` (${info.reason})` : ""}`);
        last = info;
      } else if (update.update?.$case === "point") {
        if (!headerShown) {
          console.log(LIVE_HEADER);
          headerShown = true;
        }
        console.log(liveLine(update.update.value));
      }
    });
    stream.on("error", (error: { code?: number }) => (error.code === 1 ? resolvePromise() : reject(error)));
    stream.on("end", () => resolvePromise());
  });
  return last;
}

/** `stress create|list|status|stop|report`: one-click stress tests run by load workers on the cluster. */
export const stressCommands: CommandGroup = {
  name: "stress",
  register(program: Command, context: CliContext): void {
    const json = () => context.globals().json;
    const stress = program.command("stress").description("stress tests: load from workers on the cluster, live view and report");
    const withMonitor = (command: Command) => command.option("--monitor <host:port>", "monitor gRPC address", DEFAULT_MONITOR);

    withMonitor(
      stress
        .command("create")
        .description("start a stress task from a task file in EAS's format (base, service, data, http, optional)")
        .argument("<task.json>")
        .option("-f, --follow", "follow it live until it ends", false),
    ).action(async (file: string, options: { monitor: string; follow: boolean }) => {
      const text = await readFile(file, "utf8").catch(() => {
        throw new CliError(`no such task file: ${file}`);
      });
      const data = await localData(file, text);
      await withStress(options.monitor, async (client) => {
        const info = await unaryCall(client, client.createTask, { task: text, data });
        if (json() && !options.follow) {
          console.log(JSON.stringify(info, null, 2));
          return;
        }
        console.log(
          `created stress task ${info.id} on ${info.spec?.serviceName}: ${info.status} (${info.spec?.agentCount} load workers starting)`,
        );
        if (!options.follow) {
          console.log(`follow it: eas stress status ${info.id} --follow`);
          return;
        }
        const last = await follow(client, info.id, json());
        if (last && !json()) console.log(describeTask(last));
      });
    });

    withMonitor(stress.command("list").description("stress tasks, newest first").argument("[service]")).action(
      async (service: string | undefined, options: { monitor: string }) => {
        const { tasks } = await withStress(options.monitor, (client) => unaryCall(client, client.listTasks, { service: service ?? "" }));
        context.print(tasks, () =>
          table(
            ["Task", "Service", "Mode", "Status", "Created", "Achieved", "p99 ms", "Knee"],
            tasks.map((t) => [
              t.id,
              t.spec?.serviceName ?? "",
              modeLabel(t),
              t.status,
              t.createdAt,
              t.summary ? t.summary.achievedQps.toFixed(1) : "-",
              t.summary ? t.summary.p99Ms.toFixed(1) : "-",
              t.summary?.kneeQps !== undefined ? t.summary.kneeQps.toFixed(1) : "-",
            ]),
          ),
        );
      },
    );

    withMonitor(
      stress
        .command("status")
        .description("a task's state, steps and results; with --follow, offered vs achieved rate, p50/p99 and errors each second")
        .argument("<task>")
        .option("-f, --follow", "follow it live until it ends", false),
    ).action(async (id: string, options: { monitor: string; follow: boolean }) => {
      await withStress(options.monitor, async (client) => {
        if (options.follow) {
          const last = await follow(client, id, json());
          if (last && !json()) console.log(describeTask(last));
          return;
        }
        const info = await unaryCall(client, client.getTask, { id });
        context.print(info, () => describeTask(info));
      });
    });

    withMonitor(stress.command("stop").description("stop a task: every load worker stops within a second").argument("<task>")).action(
      async (id: string, options: { monitor: string }) => {
        await withStress(options.monitor, async (client) => {
          let info = await unaryCall(client, client.stopTask, { id });
          // The report is written once the workers are gone: wait for the end (a few seconds).
          for (let waited = 0; !ENDED.has(info.status) && waited < 30_000; waited += 250) {
            await new Promise((r) => setTimeout(r, 250));
            info = await unaryCall(client, client.getTask, { id });
          }
          context.print(info, () => `${info.id}: ${info.status}${info.reason ? ` (${info.reason})` : ""}`);
        });
      },
    );

    withMonitor(
      stress
        .command("report")
        .description("write a task's report locally: <task>.html (charts, works offline) and <task>.json (every per-second point)")
        .argument("<task>")
        .option("-o, --out <folder>", "where to write them", ".")
        .option("--open", "also open the HTML in a browser", false),
    ).action(async (id: string, options: { monitor: string; out: string; open: boolean }) => {
      const report = await withStress(options.monitor, (client) => unaryCall(client, client.getReport, { id }));
      const { mkdir, writeFile } = await import("node:fs/promises");
      await mkdir(options.out, { recursive: true });
      const html = resolve(options.out, `${id}.html`);
      const jsonFile = resolve(options.out, `${id}.json`);
      await writeFile(html, report.html);
      await writeFile(jsonFile, report.json);
      let opened = false;
      if (options.open) opened = await openInBrowser(html);
      context.print({ html, json: jsonFile, htmlUrl: report.htmlUrl, jsonUrl: report.jsonUrl, opened }, () =>
        [
          `wrote ${html}`,
          `wrote ${jsonFile}`,
          options.open && !opened ? `no browser opener found (xdg-open, open): open ${html} yourself` : "",
        ]
          .filter(Boolean)
          .join("\n"),
      );
    });
  },
};

/** Opens a file with the desktop's opener, when there is one; true when it started. */
async function openInBrowser(file: string): Promise<boolean> {
  const { spawn } = await import("node:child_process");
  const opener = process.platform === "darwin" ? "open" : "xdg-open";
  return new Promise((resolvePromise) => {
    const child = spawn(opener, [file], { stdio: "ignore", detached: true });
    child.once("error", () => resolvePromise(false));
    child.once("spawn", () => {
      child.unref();
      resolvePromise(true);
    });
  });
}
