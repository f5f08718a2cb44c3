/**
 * The instance lifecycle as an outside reader sees it: a plain JetStream subscriber (the NATS client, no EAS
 * code) follows every instance stream while services are stopped or updated with their instances still
 * starting, and checks that every stream is a legal path of the state machine documented in
 * docs/architecture.md. Also: a command that exits at once ends as a Failed service, in seconds.
 */
import { after, before, describe, it, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { credentials } from "@grpc/grpc-js";
import { jetstream, type ConsumerMessages } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { AgentClient, SchedulerClient, type AgentInstance, type ServiceInfo } from "@eas/proto";
import { waitFor } from "@eas/testing";
import { readEvents, startTestCluster, unaryCall, type TestCluster } from "./cluster-harness.js";

/** The documented state machine, written out as an outside reader would: phase -> the phases it may move to. */
const LEGAL_MOVES: Readonly<Record<string, readonly string[]>> = {
  "(none)": ["Scheduled", "Starting", "Stopped", "Failed"],
  Scheduled: ["Starting", "Lost", "Draining", "Stopped", "Failed"],
  Starting: ["Ready", "Unhealthy", "Exited", "Lost", "Draining", "Stopped", "Failed"],
  Ready: ["Unhealthy", "Exited", "Lost", "Draining", "Stopped", "Failed"],
  Unhealthy: ["Ready", "Unhealthy", "Exited", "Lost", "Draining", "Stopped", "Failed"],
  Exited: ["Starting", "Lost", "Draining", "Stopped", "Failed"],
  Lost: ["Ready", "Unhealthy", "Exited", "Draining", "Stopped", "Failed"],
  Draining: ["Stopped", "Failed"],
  Stopped: [],
  Failed: [],
};

/** A mark on a live instance, not a phase: InstanceMoveRequested. */
const MARKS = new Set(["MoveRequested"]);

/** The first illegal move of a stream's phases, or undefined when the whole path is legal. */
function illegalMove(phases: readonly string[]): string | undefined {
  let from = "(none)";
  for (const to of phases) {
    if (MARKS.has(to)) {
      if (from === "(none)" || ["Draining", "Stopped", "Failed"].includes(from)) return `${from} -> ${to}`;
      continue;
    }
    if (!LEGAL_MOVES[from]?.includes(to)) return `${from} -> ${to}`;
    from = to;
  }
  return undefined;
}

/** Every instance event, by stream, as a plain JetStream consumer receives it (CloudEvents headers only). */
class PlainSubscriber {
  readonly streams = new Map<string, string[]>();
  received = 0;
  #messages: ConsumerMessages | undefined;
  #done: Promise<void> = Promise.resolve();

  static async start(nc: NatsConnection): Promise<PlainSubscriber> {
    const subscriber = new PlainSubscriber();
    const consumer = await jetstream(nc).consumers.get("EAS_LOG", { filter_subjects: "eas.log.instance.>" });
    const messages = await consumer.consume();
    subscriber.#messages = messages;
    subscriber.#done = (async () => {
      for await (const message of messages) {
        const stream = message.headers?.get("ce-subject") ?? "";
        const phase = (message.headers?.get("ce-type") ?? "").replace(/^eas\.v1\.Instance/, "");
        subscriber.streams.set(stream, [...(subscriber.streams.get(stream) ?? []), phase]);
        subscriber.received++;
      }
    })();
    return subscriber;
  }

  async stop(): Promise<void> {
    await this.#messages?.close();
    await this.#done;
  }
}

describe("the instance lifecycle, read from the log by a plain subscriber", { timeout: 300_000 }, () => {
  let t: TestCluster;
  let nc: NatsConnection;
  let subscriber: PlainSubscriber;

  before(async () => {
    t = await startTestCluster([{ nodeId: "node-1" }, { nodeId: "node-2" }]);
    nc = await connect({ servers: t.cluster.natsUrl, name: "plain-lifecycle-subscriber" });
    subscriber = await PlainSubscriber.start(nc);
  });

  after(async () => {
    await subscriber?.stop();
    await nc?.close();
    await t?.stop();
  });

  const getService = (name: string): Promise<ServiceInfo> => unaryCall(t.client, t.client.getService, { name });

  /** What the agents run, over every node. */
  async function agentInstances(): Promise<AgentInstance[]> {
    const scheduler = new SchedulerClient(t.cluster.schedulerAddress, credentials.createInsecure());
    try {
      const { nodes } = await unaryCall(scheduler, scheduler.listNodes, {});
      const all: AgentInstance[] = [];
      for (const node of nodes) {
        const agent = new AgentClient(node.agentAddress, credentials.createInsecure());
        try {
          all.push(...(await unaryCall(agent, agent.listInstances, {})).instances);
        } finally {
          agent.close();
        }
      }
      return all;
    } finally {
      scheduler.close();
    }
  }

  /** A container that answers with its instance id, listening (so Ready) only `delayMs` after it started. */
  const slowStarter = (name: string, delayMs: number) => ({
    name,
    metadata: { instance: 1, cpu: 0.1, memory: 64 },
    containers: [
      {
        script: `node -e "setTimeout(()=>require('http').createServer((q,s)=>s.end(process.env.EAS_INSTANCE_ID)).listen(process.env.PORT),${delayMs})"`,
        port: 8000,
      },
    ],
  });

  /** Resolves once the plain subscriber has seen InstanceStarting for an instance of `name` (ids start with the name). */
  const starting = (name: string) =>
    waitFor(
      `${name} starting`,
      () =>
        [...subscriber.streams.entries()].some(
          ([stream, phases]) => stream.startsWith(`instance-${name.replace(/_/g, "-")}-`) && phases.includes("Starting"),
        ),
      { timeoutMs: 30_000, intervalMs: 10 },
    );

  const predict = async (name: string, token: string) => {
    const response = await fetch(`${t.cluster.gatewayUrl}/api/predict/${name}`, {
      method: "POST",
      headers: { authorization: token },
      body: "{}",
    });
    return { status: response.status, body: await response.text() };
  };

  it("services stopped or updated while their instances start: every instance stream is a legal path, and nothing drained serves", async (ctx: TestContext) => {
    // Most start well after the drain arrives (the check below needs races), a few close to it.
    const delays = [150, 500, 800, 1100, 1500];
    const races = Array.from({ length: 20 }, (_, i) => ({
      name: `race_${i}`,
      kind: i % 2 === 0 ? ("stop" as const) : ("update" as const),
      delayMs: delays[i % delays.length]!,
    }));
    const tokens = new Map<string, string>();

    // Ten at a time: the local cluster's two cores start ten processes at once without timing the races out.
    for (let batch = 0; batch < races.length; batch += 10) {
      await Promise.all(
        races.slice(batch, batch + 10).map(async (race) => {
          const created = await unaryCall(t.client, t.client.createService, { spec: JSON.stringify(slowStarter(race.name, race.delayMs)) });
          tokens.set(race.name, created.token);
          await starting(race.name);
          if (race.kind === "stop") {
            await unaryCall(t.client, t.client.stopService, { name: race.name });
          } else {
            const patch = { containers: slowStarter(race.name, 100).containers };
            await unaryCall(t.client, t.client.updateService, { name: race.name, spec: JSON.stringify(patch), updateType: "" });
          }
        }),
      );
    }

    for (const race of races) {
      const settled = race.kind === "stop" ? "Stopped" : "Running";
      await waitFor(
        `${race.name} ${settled}`,
        async () => {
          const info = await getService(race.name);
          return info.status === settled && (race.kind === "stop" || info.instances.every((i) => i.version === 2));
        },
        { timeoutMs: 60_000, intervalMs: 200 },
      );
    }

    // The subscriber has everything the log holds once it counted as many instance events as WatchEvents returns.
    const logged = await readEvents(t.client, 0, "eas.v1.Instance");
    await waitFor("the plain subscriber caught up", () => subscriber.received >= logged.length, { timeoutMs: 10_000, intervalMs: 50 });

    const raceStreams = [...subscriber.streams.entries()].filter(([stream]) => stream.startsWith("instance-race-"));
    const illegal = raceStreams.flatMap(([stream, phases]) => {
      const move = illegalMove(phases);
      return move ? [`${stream}: ${move} in ${phases.join(" -> ")}`] : [];
    });
    assert.deepEqual(illegal, [], "every instance stream is a legal path of the state machine");
    // The races happened: instances were drained while still starting (before this change, their agents then wrote Ready).
    const drainedWhileStarting = raceStreams.filter(([, phases]) => {
      const draining = phases.indexOf("Draining");
      return draining > 0 && !phases.slice(0, draining).includes("Ready");
    });
    ctx.diagnostic(`${raceStreams.length} instance streams, ${drainedWhileStarting.length} drained before they were ever Ready`);
    assert.ok(drainedWhileStarting.length >= 5, `only ${drainedWhileStarting.length} instances were drained while starting`);
    for (const [stream, phases] of drainedWhileStarting) {
      assert.equal(phases.at(-1), "Stopped", `${stream} ends Stopped: ${phases.join(" -> ")}`);
    }

    // What serves agrees with the log: stopped services serve nothing and run nothing; updated ones only version 2.
    const running = await agentInstances();
    for (const race of races) {
      const answer = await predict(race.name, tokens.get(race.name)!);
      const ofService = running.filter((i) => i.service === race.name);
      if (race.kind === "stop") {
        assert.notEqual(answer.status, 200, `${race.name} is stopped but answered`);
        assert.deepEqual(ofService, [], `${race.name}: the agents run nothing of a stopped service`);
      } else {
        const info = await getService(race.name);
        const ready = info.instances.filter((i) => i.status === "Ready").map((i) => i.instanceId);
        assert.equal(answer.status, 200, `${race.name}: ${answer.body}`);
        assert.ok(
          ready.includes(answer.body),
          `${race.name} answered from ${answer.body}, not a Ready version 2 instance (${ready.join(", ")})`,
        );
        assert.deepEqual(
          ofService.map((i) => i.version),
          [2],
          `${race.name}: the agents run the version 2 instance only`,
        );
      }
    }
  });

  it("a command that exits at once: the service is Failed with the exit reason within 10 s, after at most 2 restarts", async () => {
    const name = "boom_at_start";
    const spec = { name, metadata: { instance: 1, cpu: 0.1, memory: 64 }, containers: [{ script: "echo boom; exit 3", port: 8000 }] };
    const startedAt = Date.now();
    await unaryCall(t.client, t.client.createService, { spec: JSON.stringify(spec) });
    let seen: ServiceInfo | undefined;
    const failed = await waitFor(
      `${name} Failed`,
      async () => {
        seen = await getService(name);
        return seen.status === "Failed" ? seen : undefined;
      },
      { timeoutMs: 10_000, intervalMs: 100 },
    ).catch((error: unknown) => {
      throw new Error(`${String(error)}; last seen: ${seen?.status} "${seen?.reason}"`);
    });
    const elapsedMs = Date.now() - startedAt;
    assert.ok(elapsedMs <= 10_000, `Failed after ${elapsedMs} ms`);
    assert.match(failed.reason, /process exited with code 3: "boom"/);

    const instanceEvents = await readEvents(t.client, 0, "eas.v1.Instance");
    const [firstId] = instanceEvents
      .filter((e) => e.type === "eas.v1.InstanceScheduled" && (JSON.parse(e.dataJson) as { service: string }).service === name)
      .map((e) => e.stream);
    const life = instanceEvents.filter((e) => e.stream === firstId);
    const restarts = life.filter(
      (e) => e.type === "eas.v1.InstanceStarting" && (JSON.parse(e.dataJson) as { restartCount?: number }).restartCount,
    );
    assert.ok(restarts.length <= 2, `${restarts.length} restarts`);
    assert.equal(life.at(-1)?.type, "eas.v1.InstanceFailed", "the agent gave up on it");
    assert.match((JSON.parse(life.at(-1)!.dataJson) as { reason: string }).reason, /exited with code 3: "boom".*never Ready/);
    await unaryCall(t.client, t.client.deleteService, { name });
  });
});
