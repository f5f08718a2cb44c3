import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { waitFor } from "@eas/testing";

const PYTHON_SUBSCRIBER = fileURLToPath(new URL("../clients/nats_subscriber.py", import.meta.url));

/** One message as `e2e/clients/nats_subscriber.py` prints it. */
export interface BlackBoxMessage {
  subject: string;
  headers: Record<string, string>;
  /** The body, as text. */
  data: string;
}

/** The Python subscriber (no EAS code, a plain socket) on a subject, with what it received so far. */
export interface BlackBoxSubscriber {
  readonly messages: readonly BlackBoxMessage[];
  stop(): void;
}

/** Starts the Python subscriber on `subject` (default the documented `eas.events.>`) and waits until it is subscribed. */
export async function startBlackBoxSubscriber(natsUrl: string, subject = "eas.events.>"): Promise<BlackBoxSubscriber> {
  const python = spawn(process.env.PYTHON ?? "python3", [PYTHON_SUBSCRIBER, natsUrl, subject], { stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  python.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  await new Promise<void>((resolve, reject) => {
    python.once("spawn", resolve);
    python.once("error", (error) => reject(new Error(`python3 is needed for this black-box check: ${error.message}`)));
  });
  let ready = false;
  const messages: BlackBoxMessage[] = [];
  createInterface({ input: python.stdout }).on("line", (line) => {
    if (line === "ready") ready = true;
    else messages.push(JSON.parse(line) as BlackBoxMessage);
  });
  await waitFor(
    "the python subscriber to be ready",
    () => {
      if (python.exitCode !== null) throw new Error(`the python subscriber exited: ${stderr}`);
      return ready;
    },
    { timeoutMs: 10_000 },
  );
  return { messages, stop: () => void python.kill("SIGTERM") };
}
