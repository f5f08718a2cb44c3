import { readFileSync } from "node:fs";
import { join } from "node:path";
import { credentials, status, type ServiceError } from "@grpc/grpc-js";
import { connect } from "@nats-io/transport-node";
import { uploadToObjectStore } from "@eas/object-store";
import { ServiceManagerClient, unaryCall, type ServiceInfo } from "@eas/proto";

export interface DemoResult {
  info: ServiceInfo;
  curl: string;
}

/**
 * Uploads the demo Iris ONNX model to the built-in object store and deploys it from
 * examples/iris-onnx.json (unless a service of that name exists), then waits until it is Running.
 */
export async function deployDemo(options: {
  repoRoot: string;
  natsUrl: string;
  deployerAddress: string;
  timeoutMs?: number;
  onProgress?: (line: string) => void;
}): Promise<DemoResult> {
  const nc = await connect({ servers: options.natsUrl, name: "eas-demo" });
  try {
    await uploadToObjectStore(nc, join(options.repoRoot, "processors/onnx/demo/iris.onnx"), "obj://models/iris.onnx");
  } finally {
    await nc.close();
  }
  const client = new ServiceManagerClient(options.deployerAddress, credentials.createInsecure());
  try {
    const spec = readFileSync(join(options.repoRoot, "examples/iris-onnx.json"), "utf8");
    await unaryCall(client, client.createService, { spec }).catch((error: ServiceError) => {
      if (error.code !== status.ALREADY_EXISTS) throw error;
    });
    const deadline = Date.now() + (options.timeoutMs ?? 180_000);
    let last = "";
    for (;;) {
      const info = await unaryCall(client, client.getService, { name: "iris" });
      const line = `iris: ${info.status} [Total: ${info.totalInstances}, Pending: ${info.pendingInstances}, Running: ${info.runningInstances}]${info.reason ? ` ${info.reason}` : ""}`;
      if (line !== last) options.onProgress?.(line);
      last = line;
      if (info.status === "Running") {
        const body = JSON.stringify({
          instances: [
            [5.1, 3.5, 1.4, 0.2],
            [6.7, 3.1, 5.6, 2.4],
          ],
        });
        return { info, curl: `curl -s -X POST ${info.endpoint} -H 'Authorization: ${info.token}' -d '${body}'` };
      }
      if (info.status === "Failed" || Date.now() > deadline) throw new Error(`demo service did not become Running: ${line}`);
      await new Promise((r) => setTimeout(r, 500));
    }
  } finally {
    client.close();
  }
}
