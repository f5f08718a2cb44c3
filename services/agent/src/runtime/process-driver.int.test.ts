import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync, realpathSync } from "node:fs";
import { copyFile, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { ServiceSpec } from "@eas/proto";
import { freePort, waitFor } from "@eas/testing";
import { createStorageFetcher } from "../storage/index.js";
import {
  ProcessDriver,
  mountsForSpec,
  resolveRuntime,
  type InstanceStatusEvent,
  type ProbeConfig,
  type ProcessDriverOptions,
  type ResolvedCommand,
  type RunningInstance,
} from "./index.js";
import { isAlive } from "../testing/processes.js";

const here = dirname(fileURLToPath(import.meta.url));
const FIXTURE = join(here, "fixtures", "server.mjs");
const REPO_ROOT = join(here, "..", "..", "..", "..");
const FAST = { restartPolicy: { baseMs: 100, capMs: 400 }, killGracePeriodMs: 1_000 } satisfies ProcessDriverOptions;
const WAIT = { timeoutMs: 20_000 };

function probe(kind: "http" | "tcp", port: number, path = "/", overrides: Partial<ProbeConfig> = {}): ProbeConfig {
  return { kind, path, port, initialDelayMs: 0, periodMs: 100, timeoutMs: 1_000, failureThreshold: 2, ...overrides };
}

describe("ProcessDriver with real child processes", () => {
  let work: string;
  const running: RunningInstance[] = [];

  before(async () => {
    work = await mkdtemp(join(tmpdir(), "eas-runtime-"));
  });
  after(async () => {
    await Promise.all(running.map((instance) => instance.stop(0)));
    await rm(work, { recursive: true, force: true });
  });

  async function start(
    name: string,
    make: (port: number, instanceDir: string) => Omit<ResolvedCommand, "cwd" | "instanceDir" | "port">,
    options: ProcessDriverOptions = FAST,
  ) {
    const port = await freePort();
    const instanceDir = join(work, name);
    await mkdir(instanceDir, { recursive: true });
    const events: InstanceStatusEvent[] = [];
    const resolved: ResolvedCommand = { cwd: instanceDir, instanceDir, port, ...make(port, instanceDir) };
    const instance = new ProcessDriver(options).start(resolved, { onStatus: (event) => events.push(event) });
    running.push(instance);
    const until = (what: string, predicate: (event: InstanceStatusEvent, index: number) => boolean) =>
      waitFor(what, () => events.find(predicate), WAIT);
    return { instance, events, port, instanceDir, until, statuses: () => events.map((event) => event.status) };
  }

  function fixtureEnv(port: number, extra: Record<string, string> = {}): Record<string, string> {
    return { PATH: process.env.PATH ?? "/usr/bin:/bin", PORT: String(port), ...extra };
  }

  it("turns Ready only once the readiness path answers 200, and reports stats and logs", async () => {
    const t = await start("ready", (port) => ({
      command: `node ${FIXTURE}`,
      env: fixtureEnv(port, { FIXTURE_READY_DELAY_MS: "700" }),
      readiness: probe("http", port, "/ready"),
    }));
    assert.equal(t.instance.endpoint, `http://127.0.0.1:${t.port}`);
    const starting = await t.until("Starting", (event) => event.status === "Starting");
    assert.equal(typeof starting.pid, "number");
    const ready = await t.until("Ready", (event) => event.status === "Ready");
    assert.ok(ready.at - starting.at >= 650, `Ready after ${ready.at - starting.at} ms, before /ready turned 200`);
    assert.deepEqual(t.statuses(), ["Starting", "Ready"]);
    assert.equal(ready.restartCount, 0);
    assert.equal((await fetch(`http://127.0.0.1:${t.port}/ready`)).status, 200);

    const stats = await t.instance.stats();
    assert.ok(stats.memoryBytes > 10_000_000, `memory ${stats.memoryBytes}`);
    assert.ok(stats.cpuPercent >= 0);
    assert.ok(t.instance.tail().some((line) => line.stream === "stdout" && line.text.includes("listening")));
    assert.ok(t.instance.tail().some((line) => line.stream === "stderr" && line.text === "a line on stderr"));
    assert.match(await readFile(join(t.instanceDir, "logs", "stdout.log"), "utf8"), /listening on/);

    await t.instance.stop(5_000);
    assert.equal(t.instance.status, "Stopped");
    assert.deepEqual(await t.instance.stats(), { cpuPercent: 0, memoryBytes: 0 });
  });

  it("restarts a crashed process with back-off and turns Ready again", async () => {
    const t = await start("crash", (port, dir) => ({
      command: `node ${FIXTURE}`,
      env: fixtureEnv(port, { FIXTURE_CRASH_ONCE_FILE: join(dir, "crashed"), FIXTURE_CRASH_AFTER_MS: "400" }),
      readiness: probe("http", port, "/ready"),
    }));
    const exited = await t.until("Exited", (event) => event.status === "Exited");
    assert.equal(exited.exitCode, 3);
    assert.equal(exited.restartCount, 0);
    assert.equal(exited.restartInMs, 100);
    assert.equal(exited.reason, `process exited with code 3: "crashing on purpose"`, "the reason quotes the last stderr line");
    const readyAgain = await t.until("Ready after restart", (event, i) => event.status === "Ready" && i > 2);
    assert.equal(readyAgain.restartCount, 1);
    assert.deepEqual(t.statuses(), ["Starting", "Ready", "Exited", "Starting", "Ready"]);
    const restarted = t.events[3]!;
    assert.ok(restarted.at - exited.at >= 90, "waited for the back-off");
    assert.equal(t.instance.restartCount, 1);
    // Both runs appended to the same log files.
    const stderr = await readFile(join(t.instanceDir, "logs", "stderr.log"), "utf8");
    assert.match(stderr, /crashing on purpose/);
    await waitFor(
      "both runs in stdout.log",
      async () => (await readFile(join(t.instanceDir, "logs", "stdout.log"), "utf8")).match(/listening on/g)?.length === 2,
    );
    await t.instance.stop(2_000);
  });

  it("kills and restarts a process whose liveness probe fails", async () => {
    const t = await start("liveness", (port, dir) => ({
      command: `node ${FIXTURE}`,
      env: fixtureEnv(port, { FIXTURE_SICK_ONCE_FILE: join(dir, "sick") }),
      readiness: probe("http", port, "/ready"),
      liveness: probe("http", port, "/healthz"),
    }));
    const exited = await t.until("Exited", (event) => event.status === "Exited");
    assert.match(exited.reason ?? "", /^liveness probe failed 2 times: HTTP 500 from GET \/healthz$/);
    // The reason names the probe that failed; the readiness probe passed throughout.
    assert.deepEqual(
      t.events.filter((event) => /readiness/.test(event.reason ?? "")),
      [],
    );
    const ready = await t.until("Ready after restart", (event, i) => event.status === "Ready" && i > 2);
    assert.equal(ready.restartCount, 1);
    // The second run is healthy: no further restart.
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.deepEqual(t.statuses(), ["Starting", "Ready", "Exited", "Starting", "Ready"]);
    await t.instance.stop(2_000);
  });

  it("stops gracefully when the process handles SIGTERM within the grace period", async () => {
    const t = await start("graceful", (port) => ({
      command: `node ${FIXTURE}`,
      env: fixtureEnv(port, { FIXTURE_TERM_DELAY_MS: "300" }),
      readiness: probe("tcp", port),
    }));
    await t.until("Ready", (event) => event.status === "Ready");
    const began = Date.now();
    await t.instance.stop(10_000);
    const took = Date.now() - began;
    assert.ok(took >= 250 && took < 5_000, `stop took ${took} ms`);
    const stopped = t.events.at(-1)!;
    assert.equal(stopped.status, "Stopped");
    assert.ok(t.instance.tail().some((line) => line.text === "SIGTERM: draining"));
    assert.equal(t.instance.pid, undefined);
    // A second stop is harmless.
    await t.instance.stop(0);
    assert.equal(t.events.filter((event) => event.status === "Stopped").length, 1);
  });

  it("SIGKILLs a process group that ignores SIGTERM once the grace period is over, shell children included", async () => {
    const t = await start("stubborn", (port) => ({
      // sh forks a background sleeper and the server; both are in the instance's process group.
      command: `sleep 300 & echo "sleeper $!"; node ${FIXTURE}`,
      env: fixtureEnv(port, { FIXTURE_IGNORE_SIGTERM: "1" }),
      readiness: probe("tcp", port),
    }));
    await t.until("Ready", (event) => event.status === "Ready");
    const sleeper = Number(
      /sleeper (\d+)/.exec(
        t.instance
          .tail()
          .map((line) => line.text)
          .join("\n"),
      )?.[1],
    );
    const server = ((await (await fetch(`http://127.0.0.1:${t.port}/pid`)).json()) as { pid: number }).pid;
    assert.ok(isAlive(sleeper) && isAlive(server));
    assert.notEqual(server, t.instance.pid, "the server is the shell's child, not the process the driver spawned");

    const began = Date.now();
    await t.instance.stop(800);
    const took = Date.now() - began;
    assert.ok(took >= 750, `SIGKILL came after ${took} ms, before the grace period ended`);
    assert.ok(t.instance.tail().some((line) => line.text === "ignoring SIGTERM"));
    assert.equal(isAlive(server), false, "the server ignoring SIGTERM was killed");
    assert.equal(isAlive(sleeper), false, "the shell's background child was killed");
    assert.equal(t.events.at(-1)!.status, "Stopped");
  });

  it("reports a process that keeps answering its readiness probe with an error as Unhealthy before the start timeout, and Ready once it passes", async () => {
    const t = await start(
      "answers-not-ready",
      (port) => ({
        command: `node ${FIXTURE}`,
        env: fixtureEnv(port, { FIXTURE_READY_DELAY_MS: "1500" }),
        readiness: probe("http", port, "/ready"),
      }),
      { ...FAST, startupAnswerReportMs: 300, startTimeoutMs: 30_000 },
    );
    const unhealthy = await t.until("Unhealthy", (event) => event.status === "Unhealthy");
    assert.match(unhealthy.reason!, /^readiness probe failed \d+ times in a row: the process answers HTTP 503 from GET \/ready$/);
    await t.until("Ready", (event) => event.status === "Ready");
    assert.deepEqual(t.statuses(), ["Starting", "Unhealthy", "Ready"], "reported once, then Ready");
    await t.instance.stop(1_000);
  });

  it("does not report a process that is not listening yet: it may still be loading", async () => {
    const t = await start(
      "not-listening",
      (port) => ({
        command: `node ${FIXTURE}`,
        env: fixtureEnv(port, { FIXTURE_LISTEN_DELAY_MS: "1200" }),
        readiness: probe("http", port, "/ready"),
      }),
      { ...FAST, startupAnswerReportMs: 300, startTimeoutMs: 30_000 },
    );
    await t.until("Ready", (event) => event.status === "Ready");
    assert.deepEqual(t.statuses(), ["Starting", "Ready"]);
    await t.instance.stop(1_000);
  });

  it("restarts when not Ready within the start timeout, and fails after maxRestarts", async () => {
    const t = await start(
      "never-ready",
      (port) => ({
        command: `node ${FIXTURE}`,
        env: fixtureEnv(port, { FIXTURE_READY_DELAY_MS: "600000" }),
        readiness: probe("http", port, "/ready"),
      }),
      { ...FAST, startTimeoutMs: 600, restartPolicy: { baseMs: 50, capMs: 50, maxRestarts: 1 } },
    );
    const failed = await t.until("Failed", (event) => event.status === "Failed");
    assert.deepEqual(t.statuses(), ["Starting", "Exited", "Starting", "Failed"]);
    assert.match(
      t.events[1]!.reason!,
      /^readiness probe did not pass within 0.6s \(last: (HTTP 503 from GET \/ready|connect ECONNREFUSED .*)\)$/,
      "names what the probe saw last",
    );
    assert.match(failed.reason!, /^readiness probe did not pass within 0.6s \(last: .+\); gave up after 1 consecutive restarts$/);
    assert.equal(failed.restartCount, 1);
    await t.instance.ended;
    await t.instance.stop(0);
    assert.equal(t.events.at(-1)!.status, "Failed", "stop after Failed reports nothing more");
  });

  it("fails a crash loop after maxRestarts with the exit code", async () => {
    const t = await start(
      "crash-loop",
      (port) => ({ command: "echo boom >&2; exit 7", env: fixtureEnv(port), readiness: probe("tcp", port) }),
      {
        ...FAST,
        restartPolicy: { baseMs: 20, capMs: 40, maxRestarts: 2 },
      },
    );
    const failed = await t.until("Failed", (event) => event.status === "Failed");
    assert.deepEqual(t.statuses(), ["Starting", "Exited", "Starting", "Exited", "Starting", "Failed"]);
    assert.deepEqual(
      t.events.filter((event) => event.status === "Exited").map((event) => event.restartInMs),
      [20, 40],
    );
    assert.equal(failed.exitCode, 7);
    assert.equal(failed.restartCount, 2);
    assert.equal(t.instance.tail().filter((line) => line.text === "boom").length, 3);
  });

  it("cancels a pending restart when stopped during back-off", async () => {
    const t = await start("backoff-stop", (port) => ({ command: "exit 1", env: fixtureEnv(port), readiness: probe("tcp", port) }), {
      restartPolicy: { baseMs: 60_000, capMs: 60_000 },
    });
    await t.until("Exited", (event) => event.status === "Exited");
    const began = Date.now();
    await t.instance.stop(5_000);
    assert.ok(Date.now() - began < 1_000);
    assert.deepEqual(t.statuses(), ["Starting", "Exited", "Stopped"]);
    assert.equal(t.events.at(-1)!.reason, "stopped during restart back-off");
  });

  it("leaves no abort listeners behind over many starts and stops with busy probes", async () => {
    // Each run's probes share one AbortSignal; a listener left per probe crossed Node's limit of 10 within a second.
    const warnings: Error[] = [];
    const onWarning = (warning: Error): void => {
      if (warning.name === "MaxListenersExceededWarning") warnings.push(warning);
    };
    process.on("warning", onWarning);
    try {
      for (let round = 0; round < 6; round++) {
        const t = await start(`listeners-${round}`, (port) => ({
          command: `node ${FIXTURE}`,
          env: fixtureEnv(port),
          readiness: probe(round % 2 === 0 ? "tcp" : "http", port, "/ready", { periodMs: 10 }),
          liveness: probe(round % 2 === 0 ? "tcp" : "http", port, "/healthz", { periodMs: 10 }),
        }));
        await t.until("Ready", (event) => event.status === "Ready");
        // 30 readiness and 30 liveness probes on this run's signal.
        await new Promise((resolve) => setTimeout(resolve, 300));
        await t.instance.stop(2_000);
        assert.equal(t.statuses().at(-1), "Stopped");
      }
      // Warnings are emitted on the next tick.
      await new Promise((resolve) => setImmediate(resolve));
      assert.deepEqual(
        warnings.map((warning) => warning.message),
        [],
      );
    } finally {
      process.off("warning", onWarning);
    }
  });

  it("fails a command that cannot be spawned, with the spawn error as reason", async () => {
    const t = await start(
      "no-binary",
      (port) => ({ command: "/nonexistent/binary", args: [], env: fixtureEnv(port), readiness: probe("tcp", port) }),
      { restartPolicy: { baseMs: 20, capMs: 20, maxRestarts: 0 } },
    );
    const failed = await t.until("Failed", (event) => event.status === "Failed");
    assert.match(failed.reason ?? "", /^cannot start: spawn \/nonexistent\/binary ENOENT/);
  });

  it("runs a container spec end to end: mounts, rewritten command line, EAS environment", async () => {
    const data = join(work, "data-src");
    await mkdir(data, { recursive: true });
    await writeFile(join(data, "hello.txt"), "hello from the mount");
    const spec = ServiceSpec.fromPartial({
      name: "demo",
      runtime: {
        $case: "container",
        value: {
          command: `cat /home/admin/data/hello.txt; echo; node ${FIXTURE}`,
          port: 8000,
          env: [{ name: "DATA_DIR", value: "/home/admin/data" }],
          readiness: { kind: "http", path: "/ready", periodMs: 100 },
        },
      },
      storage: [{ mountPath: "/home/admin/data", source: pathToFileURL(data).href, readOnly: true }],
    });
    const instanceDir = join(work, "e2e-container");
    const mounts = await createStorageFetcher({ cacheDir: join(work, "cache") }).materialize(mountsForSpec(spec), instanceDir);
    const port = await freePort();
    const resolved = resolveRuntime(spec, mounts, { repoRoot: REPO_ROOT, instanceDir, port, instanceId: "demo-1", version: 2 });
    const events: InstanceStatusEvent[] = [];
    const instance = new ProcessDriver(FAST).start(resolved, { onStatus: (event) => events.push(event) });
    running.push(instance);
    await waitFor("Ready", () => events.some((event) => event.status === "Ready"), WAIT);
    assert.ok(instance.tail().some((line) => line.text === "hello from the mount"));
    const env = (await (await fetch(`http://127.0.0.1:${port}/env`)).json()) as Record<string, string>;
    const local = join(instanceDir, "mounts", "home", "admin", "data");
    assert.equal(env.PORT, String(port));
    assert.equal(env.LISTENING_PORT, String(port));
    assert.equal(env.EAS_INSTANCE_ID, "demo-1");
    assert.equal(env.EAS_SERVICE_NAME, "demo");
    assert.equal(env.EAS_SERVICE_VERSION, "2");
    assert.equal(env.DATA_DIR, local);
    assert.deepEqual(JSON.parse(env.EAS_MOUNTS ?? "{}"), { "/home/admin/data": local });
    assert.equal(env.NATS_URL, undefined, "the agent's own environment does not leak");
    await instance.stop(2_000);
  });

  it("starts a processor through tsx with EAS_MODEL_PATH and EAS_PROCESSOR_CONFIG (fixture processor)", async () => {
    // processors/<name>/src/main.ts under a scratch repo root, with tsx linked in from this checkout.
    const repoRoot = join(work, "repo");
    await mkdir(join(repoRoot, "processors", "fixture", "src"), { recursive: true });
    await mkdir(join(repoRoot, "node_modules"), { recursive: true });
    await writeFile(join(repoRoot, "package.json"), JSON.stringify({ type: "module", private: true }));
    await symlink(join(REPO_ROOT, "node_modules", "tsx"), join(repoRoot, "node_modules", "tsx"));
    await copyFile(join(here, "fixtures", "processor-main.ts"), join(repoRoot, "processors", "fixture", "src", "main.ts"));
    const modelFile = join(work, "model.bin");
    await writeFile(modelFile, "model bytes");
    const spec = ServiceSpec.fromPartial({
      name: "proc",
      runtime: { $case: "processor", value: { name: "fixture", modelPath: pathToFileURL(modelFile).href, configJson: '{"k":1}' } },
    });
    const instanceDir = join(work, "processor");
    const mounts = await createStorageFetcher({ cacheDir: join(work, "cache") }).materialize(mountsForSpec(spec), instanceDir);
    const port = await freePort();
    const resolved = resolveRuntime(spec, mounts, { repoRoot, instanceDir, port, instanceId: "proc-1", version: 1 });
    assert.equal(resolved.command, process.execPath);
    const events: InstanceStatusEvent[] = [];
    const instance = new ProcessDriver(FAST).start(resolved, { onStatus: (event) => events.push(event) });
    running.push(instance);
    await waitFor("Ready", () => events.some((event) => event.status === "Ready"), WAIT);
    const body = (await (await fetch(`http://127.0.0.1:${port}/`)).json()) as Record<string, unknown>;
    assert.deepEqual(body, {
      model: "model bytes",
      config: { k: 1 },
      modelPath: join(instanceDir, "mounts", "eas", "model", "model.bin"),
    });
    await instance.stop(5_000);
    assert.equal(events.at(-1)!.status, "Stopped");
  });

  const echoMain = join(REPO_ROOT, "processors", "echo", "src", "main.ts");
  it("starts the real echo processor", { skip: existsSync(echoMain) ? false : `${echoMain} does not exist yet` }, async () => {
    const spec = ServiceSpec.fromPartial({ name: "echo", runtime: { $case: "processor", value: { name: "echo" } } });
    const instanceDir = join(work, "echo");
    await mkdir(instanceDir, { recursive: true });
    const port = await freePort();
    const resolved = resolveRuntime(spec, [], { repoRoot: REPO_ROOT, instanceDir, port, instanceId: "echo-1", version: 1 });
    assert.deepEqual(resolved.args, [
      "--conditions=source",
      "--import",
      pathToFileURL(realpathSync(join(REPO_ROOT, "node_modules", "tsx", "dist", "loader.mjs"))).href,
      echoMain,
    ]);
    assert.equal(resolved.readiness.path, "/healthz");
    assert.equal(resolved.liveness?.path, "/livez");
    const events: InstanceStatusEvent[] = [];
    const instance = new ProcessDriver(FAST).start(resolved, { onStatus: (event) => events.push(event) });
    running.push(instance);
    await waitFor(
      "echo Ready",
      () => {
        const failed = events.find((event) => event.status === "Exited" || event.status === "Failed");
        if (failed)
          throw new Error(
            `echo processor ended: ${failed.reason}\n${instance
              .tail(20)
              .map((l) => l.text)
              .join("\n")}`,
          );
        return events.some((event) => event.status === "Ready");
      },
      WAIT,
    );
    const answer = await fetch(`http://127.0.0.1:${port}/api/predict/echo`, { method: "POST", body: "ping" });
    assert.equal(answer.status, 200);
    await instance.stop(5_000);
    assert.equal(events.at(-1)!.status, "Stopped");
    assert.equal(events.at(-1)!.exitCode, 0, "the echo processor drained and exited on SIGTERM");
  });
});
