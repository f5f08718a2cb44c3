import type { Command } from "commander";
import { unaryCall } from "@eas/proto";
import { CliError } from "../client.js";
import type { CliContext } from "../context.js";
import { readUserFile } from "../options.js";
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
      .action(async (name: string, options: { data: string; file?: string; path: string; method: string }) => {
        const sm = context.serviceManager();
        const info = await unaryCall(sm, sm.getService, { name });
        const body = options.file ? readUserFile(options.file) : options.data;
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
