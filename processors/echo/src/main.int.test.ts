import { describe, it, afterEach } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { ProcessorChildren, within, type ProcessorChild } from "@eas/processor-kit/testing";

const children = new ProcessorChildren(fileURLToPath(new URL("./main.ts", import.meta.url)));
afterEach(() => children.killAll());
const run = (env: Record<string, string>): ProcessorChild => children.start(env);

describe("echo processor main (child process)", () => {
  it("logs one JSON line when listening and finishes an in-flight slow request on SIGTERM", async () => {
    const child = run({
      EAS_PROCESSOR_CONFIG: JSON.stringify({ latency_ms: 700 }),
      EAS_INSTANCE_ID: "echo-abc",
      EAS_SERVICE_VERSION: "7",
    });
    const listening = await child.waitForLog("listening", 15_000);
    assert.equal(listening.level, "info");
    assert.equal(listening.processor, "echo");
    assert.equal(typeof listening.port, "number");
    const base = `http://127.0.0.1:${String(listening.port)}`;

    const inFlight = fetch(`${base}/slow`, { method: "POST", body: "payload", signal: AbortSignal.timeout(10_000) });
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(child.child.kill("SIGTERM"), true);

    const res = await inFlight;
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { echo: "payload", path: "/slow", instance: "echo-abc", version: "7" });
    assert.equal(await within(10_000, "exit after SIGTERM", child.exited), 0);
    assert.deepEqual(
      child.lines.map((line) => line.msg),
      ["listening", "stopping", "stopped"],
    );
  });

  it("exits 0 on SIGTERM during the startup delay, before listening", async () => {
    const child = run({ EAS_STARTUP_DELAY_MS: "60000" });
    await child.waitForLog("delaying startup", 15_000);
    child.child.kill("SIGTERM");
    assert.equal(await within(10_000, "exit", child.exited), 0);
    assert.equal(
      child.lines.some((line) => line.msg === "listening"),
      false,
    );
  });

  it("exits 1 with a JSON error line on invalid config", async () => {
    const child = run({ EAS_PROCESSOR_CONFIG: `{"failure_rate": 2}` });
    assert.equal(await within(15_000, "exit", child.exited), 1);
    const error = child.lines.find((line) => line.level === "error");
    assert.match(String(error?.error), /'failure_rate'/);
  });
});
