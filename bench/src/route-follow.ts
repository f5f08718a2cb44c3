/**
 * Route follow: how long after an instance's Ready (or Stopped) event is appended the gateway routes to it
 * (or stops routing to it). The requirement: the routing table follows Ready/Stopped within 100 ms.
 *
 *   node --conditions=source --import tsx bench/src/route-follow.ts [cycles=200] [--warmup=5] [--gap-ms=20]
 *
 * Starts its own nats-server and three child processes, each on its own event loop as in the cluster:
 *   gateway  its own event-store connection, the routes projection synced into a route table exactly as
 *            services/gateway/src/app.ts wires it, and the real gateway server over that table;
 *   peer     a bare `subscribeToAll` on its own connection, nothing else: the raw delivery latency;
 *   instance a plain HTTP server the Ready events point at.
 * This process appends the events (like the deployer/agent) and probes the gateway.
 *
 * Each cycle appends InstanceStarting then InstanceReady for a new instance, then InstanceStopped for it (only
 * Ready and Stopped are measured). For each event it takes
 * the time from the append's ack to
 *   peer     the bare subscription receiving the event,
 *   applied  the gateway's projection onEvent having applied it to the route table,
 *   request  the first request through the gateway that sees the change (200 for Ready, 503 for Stopped),
 *            probed back to back from the ack on, so it includes one request round trip.
 * Stamps are taken where things happen (CLOCK_MONOTONIC via process.hrtime, one clock for all processes);
 * an event seen before the writer got its ack counts as 0 ms.
 */
import { fork, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { availableParallelism } from "node:os";
import { fileURLToPath } from "node:url";
import { connectJetStreamEventStore, type EventStore } from "@eas/event-store";
import { event, instanceStream, serviceStream, tokenSha256, toNewEvent } from "@eas/events";
import { createGatewayServer, routesProjection, routeSyncOnEvent, LiveRouteTable, syncAllRoutes } from "@eas/gateway";
import { createProjectionRunner } from "@eas/projections";
import { ServiceSpec } from "@eas/proto";
import { startNatsServer, waitFor } from "@eas/testing";
import { Agent, request } from "undici";

const SERVICE = "route-follow";
const TOKEN = "route-follow-token";
const BUDGET_MS = 100;
const CHANGE_TIMEOUT_MS = 10_000;

type Role = "gateway" | "peer" | "instance";
type ChildMessage = { kind: "ready"; port?: number } | { kind: "seen"; id: string; at: string };

const now = (): bigint => process.hrtime.bigint();
const msBetween = (from: bigint, to: bigint): number => Math.max(0, Number(to - from) / 1e6);
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function arg(name: string): string | undefined {
  return process.argv
    .slice(2)
    .find((a) => a.startsWith(`--${name}=`))
    ?.slice(name.length + 3);
}
function numberArg(name: string, fallback: number, positional?: string): number {
  const value = Number(arg(name) ?? positional ?? fallback);
  if (!Number.isInteger(value) || value < 0) throw new Error(`--${name} must be a non-negative integer`);
  return value;
}

// ---- child processes ----

function send(message: ChildMessage): void {
  process.send?.(message);
}

async function runChild(role: Role, servers: string): Promise<void> {
  const closers: (() => Promise<void>)[] = [];
  if (role === "instance") {
    const server = createServer((req, res) => {
      req.resume();
      req.on("end", () => res.end('{"ok":true}'));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    closers.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    send({ kind: "ready", port: (server.address() as AddressInfo).port });
  } else if (role === "peer") {
    const store = await connectJetStreamEventStore({ servers, connectionName: "route-follow-peer" });
    const subscription = store.subscribeToAll({ afterPosition: await store.headPosition() });
    const loop = (async () => {
      for await (const recorded of subscription) send({ kind: "seen", id: recorded.id, at: String(now()) });
    })();
    closers.push(async () => {
      await subscription.close();
      await loop.catch(() => undefined);
      await store.close();
    });
    await subscription.caughtUp;
    send({ kind: "ready" });
  } else {
    const store = await connectJetStreamEventStore({ servers, connectionName: "route-follow-gateway" });
    const table = new LiveRouteTable();
    const sync = routeSyncOnEvent(table);
    const runner = createProjectionRunner({
      store,
      projection: routesProjection,
      onEvent: (recorded, state) => {
        sync(recorded, state);
        send({ kind: "seen", id: recorded.id, at: String(now()) });
      },
    });
    await runner.start();
    syncAllRoutes(table, runner.state);
    await runner.caughtUp;
    const gateway = createGatewayServer({ routes: table });
    const { port } = await gateway.listen(0, "127.0.0.1");
    closers.push(async () => {
      await gateway.close();
      await runner.stop();
      await store.close();
    });
    send({ kind: "ready", port });
  }
  // The parent closing the IPC channel is the signal to stop.
  process.once("disconnect", () => {
    void (async () => {
      for (const close of closers.reverse()) await close().catch(() => undefined);
      process.exit(0);
    })();
  });
}

// ---- the driver ----

interface Child {
  readonly process: ChildProcess;
  readonly port: number | undefined;
  readonly seen: Map<string, bigint>;
}

async function startChild(role: Role, servers: string): Promise<Child> {
  const child = fork(fileURLToPath(import.meta.url), [`--role=${role}`, `--nats=${servers}`], {
    execArgv: process.execArgv,
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const seen = new Map<string, bigint>();
  const port = await new Promise<number | undefined>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${role} did not start within 30 s`)), 30_000);
    child.once("exit", (code) => reject(new Error(`${role} exited with ${code} before it was ready`)));
    child.on("message", (message: ChildMessage) => {
      if (message.kind === "seen") seen.set(message.id, BigInt(message.at));
      else {
        clearTimeout(timer);
        resolve(message.port);
      }
    });
  });
  return { process: child, port, seen };
}

async function stopChild(child: Child): Promise<void> {
  if (child.process.exitCode !== null || child.process.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.process.once("exit", () => resolve()));
  if (child.process.connected) child.process.disconnect();
  const timer = setTimeout(() => child.process.kill("SIGKILL"), 5_000);
  await exited;
  clearTimeout(timer);
}

const seenBy = (child: Child, id: string, what: string): Promise<bigint> =>
  waitFor(`${what} sees ${id}`, () => child.seen.get(id), { timeoutMs: CHANGE_TIMEOUT_MS, intervalMs: 2 });

interface Sample {
  /** The append call until its ack: what "from the ack" leaves out. */
  append: number;
  peer: number;
  applied: number;
  request: number;
}

interface Summary {
  p50: number;
  p90: number;
  p99: number;
  max: number;
  over: number;
}

/** Nearest-rank percentiles of exact samples. */
function summarize(values: number[]): Summary {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? Number.NaN;
  return { p50: at(50), p90: at(90), p99: at(99), max: sorted.at(-1) ?? Number.NaN, over: values.filter((v) => v > BUDGET_MS).length };
}

async function drive(): Promise<void> {
  const cycles = numberArg(
    "cycles",
    200,
    process.argv.slice(2).find((a) => /^\d+$/.test(a)),
  );
  const warmup = numberArg("warmup", 5);
  const gapMs = numberArg("gap-ms", 20);

  const nats = await startNatsServer();
  const children: Child[] = [];
  let writer: EventStore | undefined;
  const agent = new Agent({ connections: 4 });
  try {
    writer = await connectJetStreamEventStore({ servers: nats.url, connectionName: "route-follow-writer" });
    const [gateway, peer, instance] = await Promise.all([
      startChild("gateway", nats.url),
      startChild("peer", nats.url),
      startChild("instance", nats.url),
    ]);
    children.push(gateway, peer, instance);
    const url = `http://127.0.0.1:${gateway.port}/api/predict/${SERVICE}`;
    const endpoint = `127.0.0.1:${instance.port}`;
    const store = writer;

    /** Appends one event to its stream; returns its id and the time the append was acknowledged. */
    const append = async (stream: string, e: Parameters<typeof toNewEvent>[0]) => {
      const id = randomUUID();
      const calledAt = now();
      await store.append(stream, [toNewEvent(e, id, { source: "eas/bench" })], { expectedRevision: "any" });
      return { id, calledAt, ackedAt: now() };
    };

    /** Requests through the gateway back to back until one answers `status`; any other answer than `from` is an error. */
    const firstAnswer = async (status: number, from: number): Promise<bigint> => {
      const deadline = Date.now() + CHANGE_TIMEOUT_MS;
      for (;;) {
        const response = await request(url, { dispatcher: agent, method: "POST", headers: { authorization: TOKEN }, body: "{}" });
        await response.body.dump();
        if (response.statusCode === status) return now();
        if (response.statusCode !== from) throw new Error(`gateway answered ${response.statusCode} while waiting for ${status}`);
        if (Date.now() > deadline) throw new Error(`gateway still answers ${from} ${CHANGE_TIMEOUT_MS} ms after the change`);
      }
    };

    const measure = async (stream: string, e: Parameters<typeof toNewEvent>[0], status: number, from: number): Promise<Sample> => {
      const { id, calledAt, ackedAt } = await append(stream, e);
      const answeredAt = await firstAnswer(status, from);
      const [appliedAt, peerAt] = await Promise.all([seenBy(gateway, id, "gateway"), seenBy(peer, id, "peer")]);
      return {
        append: msBetween(calledAt, ackedAt),
        peer: msBetween(ackedAt, peerAt),
        applied: msBetween(ackedAt, appliedAt),
        request: msBetween(ackedAt, answeredAt),
      };
    };

    const created = await append(
      serviceStream(SERVICE),
      event("ServiceCreated", {
        name: SERVICE,
        spec: ServiceSpec.fromPartial({ name: SERVICE, instance: 1 }),
        version: 1,
        token: "",
        createdAt: new Date().toISOString(),
        tokenSha256: tokenSha256(TOKEN),
      }),
    );
    await Promise.all([seenBy(gateway, created.id, "gateway"), seenBy(peer, created.id, "peer")]);

    const ready: Sample[] = [];
    const stopped: Sample[] = [];
    for (let cycle = 0; cycle < warmup + cycles; cycle++) {
      const instanceId = `rf-${cycle}`;
      const at = () => new Date().toISOString();
      // Ready follows Starting in a legal instance stream; Starting itself changes no route and is not measured.
      const starting = await append(
        instanceStream(instanceId),
        event("InstanceStarting", { instanceId, service: SERVICE, nodeId: "bench", restartCount: 0, at: at() }),
      );
      await seenBy(gateway, starting.id, "gateway");
      const up = await measure(
        instanceStream(instanceId),
        event("InstanceReady", { instanceId, service: SERVICE, version: 1, nodeId: "bench", endpoint, at: at() }),
        200,
        503,
      );
      await sleep(gapMs);
      const down = await measure(
        instanceStream(instanceId),
        event("InstanceStopped", { instanceId, service: SERVICE, nodeId: "bench", reason: "bench", at: at() }),
        503,
        200,
      );
      await sleep(gapMs);
      if (cycle < warmup) continue;
      ready.push(up);
      stopped.push(down);
    }

    const fmt = (v: number) => v.toFixed(2).padStart(8);
    const line = (label: string, values: number[]) => {
      const s = summarize(values);
      console.log(`${label.padEnd(44)}${fmt(s.p50)}${fmt(s.p90)}${fmt(s.p99)}${fmt(s.max)}${String(s.over).padStart(9)}`);
      return s;
    };
    console.log(
      `\nroute follow: ${cycles} cycles (+${warmup} warm-up), ${gapMs} ms between events, node ${process.version}, ${availableParallelism()} CPUs, ${new Date().toISOString()}`,
    );
    console.log(`ms from the append's ack${" ".repeat(20)}     p50     p90     p99     max  >${BUDGET_MS}ms`);
    const rows: [string, Sample[], string][] = [
      ["InstanceReady", ready, "first 200 through gateway"],
      ["InstanceStopped", stopped, "first 503 through gateway"],
    ];
    for (const [name, samples, request] of rows) {
      const peerSummary = line(
        `${name}  peer: bare subscribeToAll`,
        samples.map((s) => s.peer),
      );
      const applied = line(
        `${name}  projection applied to table`,
        samples.map((s) => s.applied),
      );
      line(
        `${name}  ${request}`,
        samples.map((s) => s.request),
      );
      console.log(
        `${name}  applied/peer p50 ratio ${(applied.p50 / peerSummary.p50).toFixed(2)} (+${(applied.p50 - peerSummary.p50).toFixed(2)} ms); ` +
          `seen before the writer had its ack (counted 0 ms): peer ${samples.filter((s) => s.peer === 0).length}, applied ${samples.filter((s) => s.applied === 0).length}`,
      );
    }
    line(
      "reference: append call until its ack",
      [...ready, ...stopped].map((s) => s.append),
    );
    const overBudget = [...ready, ...stopped].filter((s) => s.request > BUDGET_MS).length;
    console.log(`requests that saw the change later than ${BUDGET_MS} ms: ${overBudget} of ${ready.length + stopped.length}`);
  } finally {
    await agent.close();
    await Promise.all(children.map(stopChild));
    await writer?.close();
    await nats.stop();
  }
}

const role = arg("role") as Role | undefined;
if (role) await runChild(role, arg("nats") ?? "");
else await drive();
