import type { Command } from "commander";
import type { AsyncQueueClient, BatchJob } from "@eas/proto";
import { CliError } from "../client.js";
import type { CliContext } from "../context.js";
import { positiveInt } from "../options.js";
import type { CommandGroup } from "./registry.js";

const DEFAULT_ASYNC_QUEUE = process.env.EAS_ASYNC_QUEUE_ENDPOINT ?? "127.0.0.1:50054";

async function withAsyncQueue<T>(address: string, call: (client: AsyncQueueClient) => Promise<T>): Promise<T> {
  const [{ credentials }, { AsyncQueueClient }] = await Promise.all([import("@grpc/grpc-js"), import("@eas/proto")]);
  const client = new AsyncQueueClient(address, credentials.createInsecure());
  try {
    return await call(client);
  } finally {
    client.close();
  }
}

/** The service's gateway endpoint and token, from the deployer. */
async function serviceEndpoint(context: CliContext, name: string): Promise<{ endpoint: string; token: string }> {
  const { unaryCall } = await import("@eas/proto");
  const sm = context.serviceManager();
  const info = await unaryCall(sm, sm.getService, { name });
  return { endpoint: info.endpoint, token: info.token };
}

/** `result`, `queue` and `batch submit|status|list|cancel`: async services' results, queues and offline batch jobs. */
export const asyncCommands: CommandGroup = {
  name: "async",
  register(program: Command, context: CliContext): void {
    const asyncQueueOption = (command: Command) =>
      command.option("--async-queue <host:port>", "async-queue gRPC address", DEFAULT_ASYNC_QUEUE);

    program
      .command("result")
      .description("the result of an async request: its body once done (--json: status, code, headers, body)")
      .argument("<service>")
      .argument("<request-id>")
      .option("-w, --wait", "wait while it is pending", false)
      .option("--timeout <seconds>", "longest wait with --wait", positiveInt, 300)
      .action(async (service: string, requestId: string, options: { wait: boolean; timeout: number }) => {
        const { readResult, waitForResult } = await import("../async/requests.js");
        const endpoint = await serviceEndpoint(context, service);
        const result = options.wait
          ? await waitForResult(endpoint, requestId, options.timeout * 1_000)
          : await readResult(endpoint, requestId);
        if (context.globals().json) console.log(JSON.stringify({ request_id: requestId, ...result }));
        else if (result.status === "done") console.log(result.body);
        else if (result.status === "pending")
          console.log(`pending${result.attempts ? ` (${result.attempts} failed attempt(s), last: ${result.error ?? "?"})` : ""}`);
        if (result.status === "failed" || result.status === "unknown") throw new CliError(result.error);
        if (result.status === "done" && result.code >= 400) throw new CliError(`the instance answered HTTP ${result.code}`);
      });

    asyncQueueOption(
      program
        .command("queue")
        .description("an async service's queue: length, oldest request, in flight, dead letters; --redrive queues dead letters again")
        .argument("<service>")
        .option("--redrive [request-ids...]", "queue these dead letters again (all of them without ids)")
        .option("--limit <n>", "dead letters listed at most", positiveInt, 20),
    ).action(async (service: string, options: { redrive?: true | string[]; limit: number; asyncQueue: string }) => {
      const { unaryCall } = await import("@eas/proto");
      const { deadLetterRows, queueRows } = await import("../async/render.js");
      const { table } = await import("../format.js");
      await withAsyncQueue(options.asyncQueue, async (client) => {
        if (options.redrive !== undefined) {
          const all = options.redrive === true;
          const requestIds = all ? [] : (options.redrive as string[]);
          const answer = await unaryCall(client, client.redrive, { service, requestIds, all });
          context.print(answer, () =>
            [
              `redriven ${answer.redriven.length}${answer.redriven.length ? `: ${answer.redriven.join(", ")}` : ""}`,
              ...(answer.notFound.length ? [`no dead letter for: ${answer.notFound.join(", ")}`] : []),
            ].join("\n"),
          );
          return;
        }
        const [status, letters] = await Promise.all([
          unaryCall(client, client.getQueue, { service }),
          unaryCall(client, client.listDeadLetters, { service, limit: options.limit }),
        ]);
        context.print({ ...status, deadLetterList: letters.deadLetters }, () => {
          const rows = queueRows(status).map(([label, value]) => `${label.padEnd(13)}${value}`);
          if (letters.deadLetters.length === 0) return rows.join("\n");
          return `${rows.join("\n")}\n\nDead letters (${letters.deadLetters.length} of ${letters.total}; \`eas queue ${service} --redrive [ids...]\`):\n${table(
            ["Request", "Attempts", "Reason", "Dead-lettered", "Request"],
            deadLetterRows(letters.deadLetters),
          )}`;
        });
      });
    });

    const batch = program.command("batch").description("offline batch jobs: every line of a JSON Lines file through an async service");

    asyncQueueOption(
      batch
        .command("submit")
        .description("run every line of --input through --service, outputs in input order to --output")
        .requiredOption("-s, --service <service>", "an async service")
        .requiredOption("-i, --input <url>", "obj://bucket/key or file:///path, one JSON request body per line")
        .requiredOption("-o, --output <url>", "obj://bucket/key or file:///path (on the async-queue's machine)")
        .option("-w, --wait", "follow its progress until it ends", false),
    ).action(async (options: { service: string; input: string; output: string; wait: boolean; asyncQueue: string }) => {
      const { unaryCall } = await import("@eas/proto");
      const job = await withAsyncQueue(options.asyncQueue, (client) =>
        unaryCall(client, client.submitBatch, { service: options.service, input: options.input, output: options.output }),
      );
      if (options.wait) {
        await follow(options.asyncQueue, job.jobId, context);
        return;
      }
      const { renderBatchJob } = await import("../async/render.js");
      context.print(job, () => `${renderBatchJob(job)}\nfollow it with: eas batch status ${job.jobId} --watch`);
    });

    asyncQueueOption(
      batch
        .command("status")
        .description("a batch job's state and progress, with its ETA")
        .argument("<job-id>")
        .option("-w, --watch", "refresh every second until it ends", false),
    ).action(async (jobId: string, options: { watch: boolean; asyncQueue: string }) => {
      if (options.watch) {
        await follow(options.asyncQueue, jobId, context);
        return;
      }
      const { unaryCall } = await import("@eas/proto");
      const { renderBatchJob } = await import("../async/render.js");
      const job = await withAsyncQueue(options.asyncQueue, (client) => unaryCall(client, client.getBatch, { jobId }));
      context.print(job, () => renderBatchJob(job));
    });

    asyncQueueOption(
      batch.command("list").description("batch jobs, oldest first").option("-s, --service <service>", "only this service's", ""),
    ).action(async (options: { service: string; asyncQueue: string }) => {
      const { unaryCall } = await import("@eas/proto");
      const { table } = await import("../format.js");
      const { progressBar } = await import("../async/render.js");
      const { jobs } = await withAsyncQueue(options.asyncQueue, (client) =>
        unaryCall(client, client.listBatches, { service: options.service }),
      );
      context.print(jobs, () =>
        table(
          ["Job", "Service", "State", "Progress", "Lines", "Submitted"],
          jobs.map((job) => [
            job.jobId,
            job.service,
            job.state,
            progressBar(job.doneLines, job.totalLines, 10),
            `${job.doneLines}/${job.totalLines}`,
            job.submittedAt,
          ]),
        ),
      );
    });

    asyncQueueOption(
      batch
        .command("cancel")
        .description("stop a running batch job; its queued lines are dropped, no output is written")
        .argument("<job-id>"),
    ).action(async (jobId: string, options: { asyncQueue: string }) => {
      const { unaryCall } = await import("@eas/proto");
      const { renderBatchJob } = await import("../async/render.js");
      const job = await withAsyncQueue(options.asyncQueue, (client) => unaryCall(client, client.cancelBatch, { jobId }));
      context.print(job, () => renderBatchJob(job));
    });
  },
};

/** Refreshes a job's status every second until it ends; fails unless it completed. */
async function follow(address: string, jobId: string, context: CliContext): Promise<void> {
  const { unaryCall } = await import("@eas/proto");
  const { renderBatchJob } = await import("../async/render.js");
  const json = context.globals().json;
  const interactive = process.stdout.isTTY && !json;
  let job: BatchJob;
  for (;;) {
    job = await withAsyncQueue(address, (client) => unaryCall(client, client.getBatch, { jobId }));
    if (json) console.log(JSON.stringify(job));
    else if (interactive) process.stdout.write(`\x1b[H\x1b[2J${renderBatchJob(job)}\n`);
    if (job.state !== "Running") break;
    await new Promise((resolve) => setTimeout(resolve, 1_000));
  }
  if (!json && !interactive) console.log(renderBatchJob(job));
  if (job.state !== "Completed") throw new CliError(`batch job ${jobId} ${job.state.toLowerCase()}${job.reason ? `: ${job.reason}` : ""}`);
}
