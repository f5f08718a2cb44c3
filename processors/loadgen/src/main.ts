/**
 * Composition root of the loadgen processor: one load worker of a stress task, started by the agent as
 * an instance of the task's worker service (`node --conditions=source --import tsx processors/loadgen/src/main.ts`).
 * Reads EAS_PROCESSOR_CONFIG (task id, NATS URL) and EAS_INSTANCE_ID (its worker id), follows its
 * controller on NATS and serves /healthz for the agent's probes.
 */
import { connectBus } from "@eas/bus";
import { stressControl, stressReports } from "@eas/metrics";
import { parseObjectUrl } from "@eas/object-store";
import { runProcessor } from "@eas/processor-kit";
import { parseLoadgenConfig } from "./config.js";
import { createWorkerServer } from "./server.js";
import { startLoadWorker } from "./worker.js";

runProcessor({
  name: "loadgen",
  async create(env, log) {
    const config = parseLoadgenConfig(env.EAS_PROCESSOR_CONFIG);
    const workerId = env.EAS_INSTANCE_ID || `loadgen-${process.pid}`;
    const bus = await connectBus({ servers: config.natsUrl, name: `eas-loadgen-${workerId}` });
    const worker = startLoadWorker({
      taskId: config.taskId,
      workerId,
      log: (level, message, fields) => log(level, message, fields),
      transport: {
        onControl(handler) {
          const subscription = bus.subscribe(stressControl.with(config.taskId), (control) => handler(control));
          return () => subscription.unsubscribe();
        },
        report: (report) => bus.publish(stressReports.with(config.taskId, workerId), report),
        async loadData(url) {
          const { bucket, key } = parseObjectUrl(url);
          const store = await bus.objectStore().open(bucket);
          const data = await store.getBlob(key);
          if (!data) throw new Error(`${url} does not exist`);
          return data;
        },
      },
    });
    const server = createWorkerServer(
      () => worker.state,
      log,
      async () => {
        await worker.close();
        await bus.drain();
      },
    );
    return { server, listeningFields: { task: config.taskId, worker: workerId } };
  },
});
