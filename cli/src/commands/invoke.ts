import type { Command } from "commander";
import { unaryCall } from "@eas/proto";
import { CliError } from "../client.js";
import type { CliContext } from "../context.js";
import { positiveInt, readUserFile } from "../options.js";
import type { CommandGroup } from "./registry.js";

/** `invoke`: one request through the gateway with the service's token, as curl would send it. */
export const invokeCommands: CommandGroup = {
  name: "invoke",
  register(program: Command, context: CliContext): void {
    program
      .command("invoke")
      .description("send a request to a service through the gateway, with its token")
      .argument("<name>")
      .option("-d, --data <body>", "request body", "")
      .option("-f, --file <file>", "read the request body from a file")
      .option("-p, --path <subpath>", "sub path after /api/predict/<name>", "")
      .option("-X, --method <method>", "HTTP method", "POST")
      .option("--async", "queue it on an async service and print its request id", false)
      .option("--priority", "with --async: a priority request (EAS's _priority_)", false)
      .option("--callback-url <url>", "with --async: where to POST the result")
      .option("-w, --wait", "with --async: wait for the result and print it", false)
      .option("--timeout <seconds>", "with --wait: longest wait", positiveInt, 300)
      .action(async (name: string, options: InvokeOptions) => {
        const sm = context.serviceManager();
        const info = await unaryCall(sm, sm.getService, { name });
        const body = options.file ? readUserFile(options.file) : options.data;
        if (options.async) {
          await invokeAsync(context, { endpoint: info.endpoint, token: info.token }, body, options);
          return;
        }
        const url = `${info.endpoint}${options.path ? `/${options.path.replace(/^\//, "")}` : ""}`;
        const response = await fetch(url, {
          method: options.method,
          headers: { Authorization: info.token, "Content-Type": "application/json" },
          ...(options.method === "GET" || options.method === "HEAD" ? {} : { body }),
        }).catch((error: unknown) => {
          throw new CliError(`cannot reach the gateway at ${info.endpoint}: ${(error as Error).message}`);
        });
        const text = await response.text();
        if (context.globals().json) console.log(JSON.stringify({ status: response.status, body: text }));
        else console.log(text);
        if (!response.ok) throw new CliError(`HTTP ${response.status}`);
      });
  },
};

interface InvokeOptions {
  data: string;
  file?: string;
  path: string;
  method: string;
  async: boolean;
  priority: boolean;
  callbackUrl?: string;
  wait: boolean;
  timeout: number;
}

/** `invoke --async`: the request is queued; its id is printed, or with --wait its result. */
async function invokeAsync(
  context: CliContext,
  service: { endpoint: string; token: string },
  body: string,
  options: InvokeOptions,
): Promise<void> {
  const { submitAsync, waitForResult } = await import("../async/requests.js");
  const queued = await submitAsync(service, {
    path: options.path,
    body,
    priority: options.priority,
    ...(options.callbackUrl ? { callbackUrl: options.callbackUrl } : {}),
  });
  if (!options.wait) {
    context.print({ request_id: queued.requestId, index: queued.index }, () => queued.requestId);
    return;
  }
  const result = await waitForResult(service, queued.requestId, options.timeout * 1_000);
  if (context.globals().json) console.log(JSON.stringify({ request_id: queued.requestId, ...result }));
  else if (result.status === "done") console.log(result.body);
  else if (result.status === "pending")
    console.log(`still pending after ${options.timeout} s: eas result <service> ${queued.requestId} --wait`);
  if (result.status === "failed" || result.status === "unknown") throw new CliError(result.error);
  if (result.status === "done" && result.code >= 400) throw new CliError(`the instance answered HTTP ${result.code}`);
}
