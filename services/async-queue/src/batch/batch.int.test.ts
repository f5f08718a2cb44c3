import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { after, before, describe, it } from "node:test";
import { status as grpcStatus } from "@grpc/grpc-js";
import { DomainError, NotFoundError, ValidationError } from "@eas/decider";
import { connectJetStreamEventStore, type EventStore } from "@eas/event-store";
import { createProjectionRunner, type ProjectionRunner } from "@eas/projections";
import { toServiceError } from "@eas/service-kit";
import { waitFor } from "@eas/testing";
import { batchJobsProjection, type BatchJobsState } from "../projections/batch-jobs.js";
import {
  asyncService,
  startInstance,
  startQueueFixture,
  TEST_QUEUE,
  type QueueFixture,
  type TestInstance,
} from "../testing/queue-fixture.js";
import { BatchFiles } from "./batch-io.js";
import { BatchJobs } from "./batch-jobs.js";

/** Batch jobs on a real nats-server, through a real queue and dispatcher to a real HTTP instance. */
describe("async-queue: batch jobs", () => {
  let fx: QueueFixture;
  let store: EventStore;
  let jobs: ProjectionRunner<BatchJobsState>;
  let instance: TestInstance;
  const folder = mkdtempSync(join(tmpdir(), "eas-batch-"));
  const managers: BatchJobs[] = [];
  const state = () => ({ ...asyncService("batch", {}), ...services });
  let services = asyncService("batch", {});

  function manager(window = 50): BatchJobs {
    const files = new BatchFiles(fx.bus.objectStore());
    const jobsManager = new BatchJobs({
      store,
      source: "eas/async-queue/test",
      services: state,
      jobs: () => jobs.state,
      files,
      runner: { js: fx.js, jsm: fx.jsm, kvm: fx.kvm, files, window, clock: Date.now, logger: fx.logger },
      logger: fx.logger,
    });
    managers.push(jobsManager);
    return jobsManager;
  }

  const lines = (count: number, broken: number[] = []) =>
    Array.from({ length: count }, (_, n) => (broken.includes(n + 1) ? `{"n": ${n + 1},` : JSON.stringify({ n: n + 1 }))).join("\n") + "\n";

  before(async () => {
    fx = await startQueueFixture({ ackWaitMs: 2_000 });
    store = await connectJetStreamEventStore({ servers: fx.nats.url, connectionName: "batch-test-store" });
    jobs = createProjectionRunner({ store, projection: batchJobsProjection });
    await jobs.start();
    instance = await startInstance("worker", 2);
    instance.handler = (_req, res, body) => {
      const { n } = JSON.parse(body) as { n: number };
      // Every 7th line is refused by the model (a 4xx is its answer, not a failure).
      const status = n % 7 === 0 ? 422 : 200;
      const answer = JSON.stringify({ double: n * 2 });
      res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(answer) });
      res.end(answer);
    };
    services = asyncService("batch", { worker: instance.endpoint }, TEST_QUEUE, 8);
    await fx.dispatchers(state).syncAll();
  });
  after(async () => {
    for (const jobsManager of managers) await jobsManager.stop();
    await jobs?.stop();
    await store?.close();
    await instance?.close();
    await fx?.close();
    rmSync(folder, { recursive: true, force: true });
  });

  it("writes every line's output in input order with its status, a malformed line reported and the rest going on (file://)", async () => {
    const input = join(folder, "in.jsonl");
    writeFileSync(input, lines(120, [5, 60]));
    const jobsManager = manager();
    const submitted = await jobsManager.submit({
      service: "batch",
      input: `file://${input}`,
      output: `file://${join(folder, "out.jsonl")}`,
    });
    assert.equal(submitted.totalLines, 120);
    assert.equal(submitted.state, "Running");
    const done = await waitFor(
      "the job completed",
      () => {
        const job = jobsManager.get(submitted.jobId);
        return job.state === "Completed" ? job : undefined;
      },
      { timeoutMs: 30_000 },
    );
    const output = readFileSync(join(folder, "out.jsonl"), "utf8")
      .trimEnd()
      .split("\n")
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    assert.equal(output.length, 120);
    output.forEach((line, index) => assert.equal(line.line, index + 1));
    assert.equal(output[4]?.status, "invalid");
    assert.match(String(output[4]?.error), /not valid JSON/);
    assert.deepEqual(output[0], { line: 1, status: "ok", code: 200, output: { double: 2 } });
    assert.deepEqual(output[6], { line: 7, status: "error", code: 422, output: { double: 14 } });
    assert.deepEqual([done.okLines, done.errorLines, done.failedLines, done.invalidLines, done.doneLines], [120 - 17 - 2, 17, 0, 2, 120]);
    assert.equal(existsSync(join(folder, `out.jsonl.${submitted.jobId}.partial`)), false);
  });

  it("reads from and writes to the object store (obj://)", async () => {
    const objects = await fx.bus.objectStore().create("datasets");
    await objects.put(
      { name: "in/small.jsonl" },
      Readable.toWeb(Readable.from([Buffer.from(lines(30))])) as unknown as ReadableStream<Uint8Array>,
    );
    const jobsManager = manager();
    const submitted = await jobsManager.submit({
      service: "batch",
      input: "obj://datasets/in/small.jsonl",
      output: "obj://results/out/small.jsonl",
    });
    await waitFor("the job completed", () => jobsManager.get(submitted.jobId).state === "Completed", { timeoutMs: 30_000 });
    const written = await (await fx.bus.objectStore().open("results")).getBlob("out/small.jsonl");
    const output = new TextDecoder()
      .decode(written ?? new Uint8Array())
      .trimEnd()
      .split("\n");
    assert.equal(output.length, 30);
    assert.deepEqual(JSON.parse(output[29] ?? "{}"), { line: 30, status: "ok", code: 200, output: { double: 60 } });
  });

  it("refuses bad submissions with an error naming the field, writing nothing", async () => {
    const jobsManager = manager();
    const before = Object.keys(jobs.state).length;
    const refused = async (request: { service: string; input: string; output: string }, code: grpcStatus, pattern: RegExp) => {
      const error = await jobsManager.submit(request).then(
        () => undefined,
        (caught: unknown) => caught,
      );
      assert.ok(error instanceof DomainError, `refused: ${String(error)}`);
      const mapped = toServiceError(error);
      assert.equal(mapped.code, code, mapped.details);
      assert.match(mapped.details, pattern);
    };
    await refused(
      { service: "batch", input: "obj://datasets/nope.jsonl", output: "obj://results/x.jsonl" },
      grpcStatus.NOT_FOUND,
      /input obj:\/\/datasets\/nope.jsonl not found/,
    );
    await refused({ service: "batch", input: "obj://no_bucket/x.jsonl", output: "obj://results/x.jsonl" }, grpcStatus.NOT_FOUND, /input/);
    await refused(
      { service: "batch", input: "http://x/in", output: "obj://results/x.jsonl" },
      grpcStatus.INVALID_ARGUMENT,
      /^input: must be obj:/,
    );
    await refused(
      { service: "batch", input: `file://${folder}/in.jsonl`, output: "file:///no/such/folder/out.jsonl" },
      grpcStatus.INVALID_ARGUMENT,
      /^output: cannot write/,
    );
    await refused(
      { service: "ghost", input: `file://${folder}/in.jsonl`, output: `file://${folder}/o.jsonl` },
      grpcStatus.NOT_FOUND,
      /service ghost/,
    );
    assert.ok(NotFoundError && ValidationError);
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(Object.keys(jobs.state).length, before, "no job recorded");
  });

  it("resumes after its runner stops halfway (a restart), with no line redone, none lost, outputs in order", async () => {
    const input = join(folder, "big.jsonl");
    const total = 1_500;
    writeFileSync(input, lines(total));
    const hitsBefore = instance.hits;
    const first = manager(100);
    const submitted = await first.submit({ service: "batch", input: `file://${input}`, output: `file://${join(folder, "big.out.jsonl")}` });
    await waitFor("some lines done", () => first.get(submitted.jobId).doneLines >= 400, { timeoutMs: 30_000 });
    await first.stop();
    const second = manager(100);
    second.resumeAll();
    await waitFor("the job completed", () => second.get(submitted.jobId).state === "Completed", { timeoutMs: 60_000 });
    const output = readFileSync(join(folder, "big.out.jsonl"), "utf8")
      .trimEnd()
      .split("\n")
      .map((line) => JSON.parse(line) as { line: number });
    assert.deepEqual(
      output.map((line) => line.line),
      Array.from({ length: total }, (_, n) => n + 1),
    );
    assert.equal(instance.hits - hitsBefore, total, "each line sent to the instance once");
  });

  it("cancels a running job: its queued lines are removed and no output is written", async () => {
    const slow = await startInstance("slow", 200);
    services = asyncService("batch", { worker: slow.endpoint }, TEST_QUEUE, 1);
    await managers[0]?.stop();
    const input = join(folder, "cancel.jsonl");
    writeFileSync(input, lines(200));
    const jobsManager = manager(100);
    try {
      await fx.dispatchers(state).syncAll();
      const submitted = await jobsManager.submit({
        service: "batch",
        input: `file://${input}`,
        output: `file://${join(folder, "cancel.out.jsonl")}`,
      });
      await waitFor("lines queued", async () => (await fx.queued("batch")) > 10);
      const cancelled = await jobsManager.cancel(submitted.jobId);
      assert.equal(cancelled.state, "Cancelled");
      await waitFor("the job's lines gone from the queue", async () => (await fx.queued("batch")) <= 2);
      assert.equal(existsSync(join(folder, "cancel.out.jsonl")), false);
    } finally {
      await slow.close();
    }
  });
});
