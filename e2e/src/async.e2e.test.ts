import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { credentials, status as grpcStatus, type ServiceError } from "@grpc/grpc-js";
import { connect } from "@nats-io/transport-node";
import { uploadToObjectStore } from "@eas/object-store";
import { AgentClient, AsyncQueueClient, SchedulerClient, unaryCall, type ServiceInfo } from "@eas/proto";
import { waitFor } from "@eas/testing";
import { Agent, request } from "undici";
import { startTestCluster, type TestCluster } from "./cluster-harness.js";

const REQUEST_ID = "x-eas-queueservice-request-id";

/**
 * Async services and batch jobs on the whole local cluster (issue 9): 2,000 requests to a slow, failing-sometimes
 * async echo service while instance processes and one agent are killed with SIGKILL; a 10,000-line batch job while
 * the async-queue is killed halfway; and the bad inputs, each with its clear error.
 */
describe("async services and batch jobs on the local cluster", () => {
  let t: TestCluster;
  let queue: AsyncQueueClient;
  const http = new Agent({ connections: 64 });
  const folder = mkdtempSync(join(tmpdir(), "eas-async-e2e-"));

  before(async () => {
    t = await startTestCluster(
      [
        { nodeId: "node-1", cpuMillis: 8_000, memoryMib: 8_192 },
        { nodeId: "node-2", cpuMillis: 8_000, memoryMib: 8_192 },
      ],
      90_000,
      undefined,
      // A request held by an async-queue that died is handed out again after 5 s; retries start after 100 ms.
      { EAS_ASYNC_ACK_WAIT_MS: "5000", EAS_ASYNC_RETRY_BASE_MS: "100", EAS_ASYNC_RETRY_MAX_MS: "1000" },
    );
    queue = new AsyncQueueClient(`127.0.0.1:${t.cluster.services.get("async-queue")!.grpcPort}`, credentials.createInsecure());
  });
  after(async () => {
    queue?.close();
    await http.close();
    await t?.stop();
    rmSync(folder, { recursive: true, force: true });
  });

  async function createAsync(spec: object, running = true): Promise<ServiceInfo> {
    await unaryCall(t.client, t.client.createService, { spec: JSON.stringify(spec) });
    const name = (spec as { metadata: { name: string } }).metadata.name;
    return waitFor(
      `${name} ${running ? "Running" : "created"}`,
      async () => {
        const info = await unaryCall(t.client, t.client.getService, { name });
        return !running || info.status === "Running" ? info : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 200 },
    );
  }

  async function post(info: ServiceInfo, body: string, path = ""): Promise<{ status: number; id: string; text: string }> {
    const response = await request(`${info.endpoint}${path}`, {
      method: "POST",
      headers: { authorization: info.token, "content-type": "application/json" },
      body,
      dispatcher: http,
    });
    const text = await response.body.text();
    return { status: response.statusCode, id: String(response.headers[REQUEST_ID] ?? ""), text };
  }

  async function get(info: ServiceInfo, path: string): Promise<{ status: number; text: string; headers: Record<string, unknown> }> {
    const response = await request(`${info.endpoint}${path}`, { headers: { authorization: info.token }, dispatcher: http });
    return { status: response.statusCode, text: await response.body.text(), headers: response.headers };
  }

  /** Every outcome the results watch streams, by request id (a second one for an id would be an answer given twice). */
  function watchResults(info: ServiceInfo): { seen: Map<string, number>; stop(): void } {
    const seen = new Map<string, number>();
    const controller = new AbortController();
    void (async () => {
      const response = await fetch(`${info.endpoint}/results`, { headers: { authorization: info.token }, signal: controller.signal });
      const decoder = new TextDecoder();
      let buffered = "";
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
        buffered += decoder.decode(chunk, { stream: true });
        let end: number;
        while ((end = buffered.indexOf("\n\n")) >= 0) {
          const data = /^data: (.*)$/m.exec(buffered.slice(0, end))?.[1];
          buffered = buffered.slice(end + 2);
          if (data) {
            const id = (JSON.parse(data) as { request_id: string }).request_id;
            seen.set(id, (seen.get(id) ?? 0) + 1);
          }
        }
      }
    })().catch(() => undefined);
    return { seen, stop: () => controller.abort() };
  }

  /** The pid of each running instance of `service`, from the agents. */
  async function instancePids(service: string): Promise<{ instanceId: string; nodeId: string; pid: number }[]> {
    const scheduler = new SchedulerClient(t.cluster.schedulerAddress, credentials.createInsecure());
    const { nodes } = await unaryCall(scheduler, scheduler.listNodes, {});
    scheduler.close();
    const found = [];
    for (const node of nodes.filter((n) => n.status !== "Lost")) {
      const agent = new AgentClient(node.agentAddress, credentials.createInsecure());
      try {
        const { instances } = await unaryCall(agent, agent.listInstances, {});
        for (const i of instances)
          if (i.service === service && i.pid > 0 && i.status === "Ready")
            found.push({ instanceId: i.instanceId, nodeId: node.nodeId, pid: i.pid });
      } catch {
        // An agent just killed does not answer.
      } finally {
        agent.close();
      }
    }
    return found;
  }

  it("2,000 requests while instance processes and an agent are killed: each ends with exactly one result or one dead letter with its reason", async () => {
    const info = await createAsync({
      metadata: { name: "gen", type: "Async", instance: 4, cpu: 0.25, memory: 128, rpc: { worker_threads: 4 } },
      processor: "echo",
      processor_config: { latency_ms: 80, latency_jitter_ms: 120, failure_rate: 0.1 },
      queue: { max_attempts: 3, request_timeout_ms: 10_000 },
    });
    const watch = watchResults(info);
    await new Promise((resolve) => setTimeout(resolve, 300));

    const ids: string[] = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: 32 }, async () => {
        while (next < 2_000) {
          const n = next++;
          const answer = await post(info, JSON.stringify({ n }));
          assert.equal(answer.status, 200, answer.text);
          ids.push(answer.id);
        }
      }),
    );
    assert.equal(new Set(ids).size, 2_000, "2,000 distinct request ids");

    // While they run: two instance processes, then one agent.
    for (const victim of (await instancePids("gen")).slice(0, 2)) {
      process.kill(victim.pid, "SIGKILL");
      await new Promise((resolve) => setTimeout(resolve, 1_500));
    }
    const survivors = await instancePids("gen");
    const lostNode = survivors[0]?.nodeId ?? "node-2";
    await t.cluster.kill(`agent-${lostNode}`, "SIGKILL");

    await waitFor("every request's outcome on the watch", () => ids.every((id) => watch.seen.has(id)), {
      timeoutMs: 150_000,
      intervalMs: 500,
    });
    watch.stop();

    const failed = new Map<string, string>();
    for (const id of ids) {
      const result = await get(info, `/results/${id}`);
      if (result.status === 200) {
        assert.equal(result.headers["x-eas-result-code"], "200");
        assert.equal((JSON.parse(result.text) as { echo: unknown }).echo !== undefined, true);
      } else {
        assert.equal(result.status, 502, `${id}: ${result.status} ${result.text}`);
        failed.set(id, (JSON.parse(result.text) as { error: { message: string } }).error.message);
      }
    }
    const { deadLetters, total } = await unaryCall(queue, queue.listDeadLetters, { service: "gen", limit: 5_000 });
    assert.equal(total, failed.size, "one dead letter per failed request, none for an answered one");
    assert.deepEqual(new Set(deadLetters.map((letter) => letter.requestId)), new Set(failed.keys()));
    for (const letter of deadLetters)
      assert.ok(letter.reason !== "" && letter.attempts >= 1, `dead letter ${letter.requestId} has its reason`);
    assert.ok(
      [...watch.seen.values()].every((count) => count === 1),
      "no request answered twice",
    );
    const status = await unaryCall(queue, queue.getQueue, { service: "gen" });
    assert.equal(status.length, 0, "nothing left in the queue");
    console.log(`gen: ${2_000 - failed.size} answered, ${failed.size} dead-lettered`);

    await t.cluster.restart(`agent-${lostNode}`);
  });

  it("a 10,000-line batch job finishes in input order with no gap or duplicate though the async-queue is killed halfway", async () => {
    await createAsync({
      metadata: { name: "lines", type: "Async", instance: 2, cpu: 0.25, memory: 128, rpc: { worker_threads: 16 } },
      processor: "echo",
      queue: { max_attempts: 5 },
    });
    const total = 10_000;
    const malformed = new Set([17, 5_000, 9_999]);
    const input = join(folder, "lines.jsonl");
    writeFileSync(
      input,
      Array.from({ length: total }, (_, n) => (malformed.has(n + 1) ? "{oops" : JSON.stringify({ n: n + 1 }))).join("\n") + "\n",
    );
    const nc = await connect({ servers: t.cluster.natsUrl });
    try {
      await uploadToObjectStore(nc, input, "obj://datasets/lines.jsonl");
    } finally {
      await nc.close();
    }
    const output = join(folder, "lines.out.jsonl");
    const job = await unaryCall(queue, queue.submitBatch, {
      service: "lines",
      input: "obj://datasets/lines.jsonl",
      output: `file://${output}`,
    });
    assert.equal(job.totalLines, total);

    await waitFor(
      "half the lines done",
      async () => (await unaryCall(queue, queue.getBatch, { jobId: job.jobId })).doneLines >= total / 2,
      {
        timeoutMs: 120_000,
        intervalMs: 100,
      },
    );
    await t.cluster.kill("async-queue", "SIGKILL");
    await t.cluster.restart("async-queue");
    queue.close();
    queue = new AsyncQueueClient(`127.0.0.1:${t.cluster.services.get("async-queue")!.grpcPort}`, credentials.createInsecure());
    const done = await waitFor(
      "the job completed after the restart",
      async () => {
        const current = await unaryCall(queue, queue.getBatch, { jobId: job.jobId }).catch(() => undefined);
        if (current?.state === "Failed") throw new Error(current.reason);
        return current?.state === "Completed" ? current : undefined;
      },
      { timeoutMs: 180_000, intervalMs: 500 },
    );
    const lines = readFileSync(output, "utf8")
      .trimEnd()
      .split("\n")
      .map((line) => JSON.parse(line) as { line: number; status: string; output?: { echo?: { n?: number } } });
    assert.equal(lines.length, total);
    lines.forEach((line, index) => assert.equal(line.line, index + 1, "outputs in input order, no gap, no duplicate"));
    for (const n of malformed) assert.equal(lines[n - 1]?.status, "invalid");
    assert.equal(lines.filter((line) => line.status === "ok").length, total - malformed.size);
    assert.equal(lines[41]?.output?.echo?.n, 42, "each output is its own line's answer");
    assert.deepEqual([done.okLines, done.invalidLines, done.doneLines], [total - malformed.size, malformed.size, total]);
  });

  it("bad input gets its clear error and nothing half-written: a full queue, an oversized payload, an unknown id, a missing input", async () => {
    const idle = await createAsync(
      {
        metadata: { name: "idle", type: "Async", instance: 0, cpu: 0.25, memory: 128 },
        processor: "echo",
        queue: { max_length: 5, max_payload_size_kb: 4 },
      },
      false,
    );
    await waitFor("the idle queue ready", async () => (await post(idle, "{}")).status === 200, { timeoutMs: 30_000, intervalMs: 200 });
    for (let n = 0; n < 4; n++) assert.equal((await post(idle, "{}")).status, 200);
    const full = await post(idle, "{}");
    assert.equal(full.status, 450);
    assert.equal((JSON.parse(full.text) as { error: { code: string } }).error.code, "QueueFull");
    assert.equal((await unaryCall(queue, queue.getQueue, { service: "idle" })).length, 5, "the refused request was not queued");

    const oversized = await post(idle, JSON.stringify({ blob: "x".repeat(5_000) }));
    assert.equal(oversized.status, 413);
    assert.equal((JSON.parse(oversized.text) as { error: { code: string } }).error.code, "PayloadTooLarge");

    const unknown = await get(idle, "/results/never-submitted");
    assert.equal(unknown.status, 404);
    assert.equal((JSON.parse(unknown.text) as { error: { code: string } }).error.code, "RequestNotFound");

    const missing = await unaryCall(queue, queue.submitBatch, {
      service: "idle",
      input: "obj://datasets/nope.jsonl",
      output: `file://${folder}/nope.out`,
    }).then(
      () => undefined,
      (error: ServiceError) => error,
    );
    assert.equal(missing?.code, grpcStatus.NOT_FOUND);
    assert.match(missing?.details ?? "", /input obj:\/\/datasets\/nope.jsonl not found/);
    assert.equal((await unaryCall(queue, queue.listBatches, { service: "idle" })).jobs.length, 0, "no job recorded");
  });
});
