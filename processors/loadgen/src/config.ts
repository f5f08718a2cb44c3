/** Configuration of the loadgen processor, from `EAS_PROCESSOR_CONFIG`: which task, and where its controller's NATS is. */
export interface LoadgenConfig {
  readonly taskId: string;
  readonly natsUrl: string;
}

export class LoadgenConfigError extends Error {
  override readonly name = "LoadgenConfigError";
}

const TASK_ID = /^[A-Za-z0-9_-]{1,64}$/;

/** Reads `{"task": "<id>", "nats_url": "nats://..."}`; the monitor writes it into the worker service's spec. */
export function parseLoadgenConfig(text: string | undefined): LoadgenConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(text ?? "");
  } catch {
    throw new LoadgenConfigError("EAS_PROCESSOR_CONFIG must be a JSON object with task and nats_url");
  }
  const { task, nats_url: natsUrl } = (raw ?? {}) as { task?: unknown; nats_url?: unknown };
  if (typeof task !== "string" || !TASK_ID.test(task))
    throw new LoadgenConfigError(`loadgen config 'task' must be a task id, got ${JSON.stringify(task)}`);
  if (typeof natsUrl !== "string" || !natsUrl.startsWith("nats://")) {
    throw new LoadgenConfigError(`loadgen config 'nats_url' must be a nats:// URL, got ${JSON.stringify(natsUrl)}`);
  }
  return { taskId: task, natsUrl };
}
