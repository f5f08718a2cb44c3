import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, afterEach, before, describe, it } from "node:test";
import { credentials, type sendUnaryData, type ServerUnaryCall } from "@grpc/grpc-js";
import { NodeInfo, SchedulerClient, SchedulerService, type ReclaimNodeRequest } from "@eas/proto";
import { startGrpcServer, type GrpcServerHandle } from "@eas/service-kit";
import { createLogger } from "@eas/telemetry";
import { waitFor } from "@eas/testing";
import { watchReclaimNotice } from "./reclaim-notice.js";

/**
 * The agent's side of a spot reclaim notice, against a real gRPC server that records what a scheduler would be
 * asked (only `ReclaimNode` is served; the scheduler's handling has its own tests).
 */
describe("watchReclaimNotice", () => {
  let server: GrpcServerHandle;
  let scheduler: SchedulerClient;
  let work: string;
  const received: { request: ReclaimNodeRequest; at: number }[] = [];
  let failuresLeft = 0;
  let watcher: { close(): void } | undefined;

  before(async () => {
    work = await mkdtemp(join(tmpdir(), "eas-reclaim-notice-"));
    const reclaimNode = (call: ServerUnaryCall<ReclaimNodeRequest, NodeInfo>, callback: sendUnaryData<NodeInfo>) => {
      if (failuresLeft > 0) {
        failuresLeft -= 1;
        callback({ name: "Error", message: "scheduler busy", code: 14 });
        return;
      }
      received.push({ request: call.request, at: Date.now() });
      callback(null, NodeInfo.fromPartial({ nodeId: call.request.nodeId, status: "Reclaiming" }));
    };
    server = await startGrpcServer([{ definition: SchedulerService, implementation: { reclaimNode } }], "127.0.0.1", 0);
    scheduler = new SchedulerClient(`127.0.0.1:${server.port}`, credentials.createInsecure());
  });
  afterEach(() => {
    watcher?.close();
    received.length = 0;
  });
  after(async () => {
    scheduler?.close();
    await server?.stop(500);
    await rm(work, { recursive: true, force: true });
  });

  const watch = (file: string) =>
    (watcher = watchReclaimNotice({
      nodeId: "spot-1",
      scheduler,
      file,
      signalNoticeMs: 7_000,
      logger: createLogger({ name: "reclaim-test", level: "silent" }),
      pollMs: 50,
    }));

  it("hands a notice file's deadline to the scheduler once, retrying while it does not answer", async () => {
    const file = join(work, "notice.json");
    watch(file);
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(received.length, 0, "no file, no notice");
    failuresLeft = 2;
    const deadline = Date.now() + 30_000;
    await writeFile(file, JSON.stringify({ action: "terminate", time: new Date(deadline).toISOString() }));
    await waitFor("the notice delivered", () => received.length === 1, { timeoutMs: 10_000 });
    const [{ request, at }] = received as [{ request: ReclaimNodeRequest; at: number }];
    assert.equal(request.nodeId, "spot-1");
    assert.equal(request.reason, "agent: notice file");
    assert.ok(Math.abs(at + request.noticeMs - deadline) < 1_000, `notice ${request.noticeMs} ms ends at the file's time`);
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(received.length, 1, "the first notice holds: the file is not sent again");
  });

  it("ignores a notice file it cannot read as a notice", async () => {
    const file = join(work, "garbage.json");
    await writeFile(file, "terminate please");
    watch(file);
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(received.length, 0);
  });

  it("takes SIGUSR2 as a notice of the configured length", async () => {
    watch(join(work, "none.json"));
    process.kill(process.pid, "SIGUSR2");
    await waitFor("the notice delivered", () => received.length === 1, { timeoutMs: 10_000 });
    assert.equal(received[0]!.request.reason, "agent: SIGUSR2");
    assert.ok(Math.abs(received[0]!.request.noticeMs - 7_000) < 1_000);
  });
});
