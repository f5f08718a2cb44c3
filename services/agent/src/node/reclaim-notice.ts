import { readFile, stat } from "node:fs/promises";
import type { EventStore } from "@eas/event-store";
import { decodeEvent, StreamCategory } from "@eas/events";
import { unaryCall, type SchedulerClient } from "@eas/proto";
import type { Logger } from "@eas/telemetry";

/** A reclaim notice as a cloud metadata watcher delivers it: when the machine goes away. */
export interface ReclaimNotice {
  /** Epoch ms of the reclaim. */
  readonly deadline: number;
  /** Who delivered it, for the event. */
  readonly reason: string;
}

/**
 * Reads a notice file: the JSON a cloud's spot metadata endpoint serves (`{"action": "terminate", "time":
 * "2026-12-01T10:00:30Z"}`, as AWS's `spot/instance-action`), or `{"in_seconds": 30}` for a notice relative to
 * when the file is read. Anything else is an error naming what is wrong.
 */
export function parseReclaimNotice(text: string, nowMs: number): ReclaimNotice | { error: string } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return { error: 'not JSON: expected {"action": "terminate", "time": "<RFC 3339>"} or {"in_seconds": <n>}' };
  }
  if (typeof parsed !== "object" || parsed === null) return { error: "not a JSON object" };
  const notice = parsed as { action?: unknown; time?: unknown; in_seconds?: unknown };
  if (typeof notice.in_seconds === "number") {
    if (!Number.isFinite(notice.in_seconds) || notice.in_seconds <= 0) return { error: "in_seconds must be a number > 0" };
    return { deadline: nowMs + Math.round(notice.in_seconds * 1000), reason: "agent: notice file" };
  }
  if (notice.action !== undefined && notice.action !== "terminate" && notice.action !== "stop") {
    return { error: `action must be "terminate" or "stop", got ${JSON.stringify(notice.action)}` };
  }
  const deadline = typeof notice.time === "string" ? Date.parse(notice.time) : Number.NaN;
  if (Number.isNaN(deadline)) return { error: "time must be an RFC 3339 time" };
  return { deadline, reason: "agent: notice file" };
}

export interface ReclaimNoticeOptions {
  nodeId: string;
  scheduler: SchedulerClient;
  /** The file a metadata watcher writes the notice into. */
  file: string;
  /** The notice a SIGUSR2 stands for, in ms from its arrival. */
  signalNoticeMs: number;
  logger: Logger;
  /** How often the file is looked at; default 1 s. */
  pollMs?: number;
  now?: () => number;
}

/**
 * Takes a spot reclaim notice on this node, from the file a cloud metadata watcher writes (polled) or from
 * SIGUSR2, and hands it to the scheduler (`ReclaimNode`), retrying until it answers. The first notice holds.
 */
export function watchReclaimNotice(options: ReclaimNoticeOptions): { close(): void } {
  const { logger, scheduler, nodeId } = options;
  const now = options.now ?? Date.now;
  let delivered = false;
  let sending = false;
  let lastFileError = "";
  let closed = false;

  const deliver = async (notice: ReclaimNotice) => {
    if (delivered || sending) return;
    sending = true;
    try {
      while (!closed) {
        const noticeMs = Math.max(1, notice.deadline - now());
        try {
          await unaryCall(scheduler, scheduler.reclaimNode, { nodeId, noticeMs, reason: notice.reason }, 5_000);
          delivered = true;
          logger.warn({ deadline: new Date(notice.deadline).toISOString(), reason: notice.reason }, "reclaim notice delivered");
          return;
        } catch (error) {
          logger.warn({ reason: (error as Error).message }, "could not deliver the reclaim notice; retrying");
          await new Promise((resolve) => setTimeout(resolve, 1_000));
        }
      }
    } finally {
      sending = false;
    }
  };

  const readFileNotice = async () => {
    try {
      await stat(options.file);
    } catch {
      return;
    }
    const parsed = parseReclaimNotice(await readFile(options.file, "utf8"), now());
    if ("error" in parsed) {
      if (parsed.error !== lastFileError) logger.warn({ file: options.file, problem: parsed.error }, "reclaim notice file ignored");
      lastFileError = parsed.error;
      return;
    }
    await deliver(parsed);
  };

  const timer = setInterval(() => {
    if (!delivered) void readFileNotice().catch((error: unknown) => logger.warn({ err: error }, "could not read the reclaim notice file"));
  }, options.pollMs ?? 1_000);
  const onSignal = () => void deliver({ deadline: now() + options.signalNoticeMs, reason: "agent: SIGUSR2" });
  process.on("SIGUSR2", onSignal);

  return {
    close() {
      closed = true;
      clearInterval(timer);
      process.off("SIGUSR2", onSignal);
    },
  };
}

/**
 * Calls `onReclaimed` once the log says this node was reclaimed (NodeReclaimed): the machine is gone, and the
 * agent goes with it. Follows the node events appended from now on; `close()` stops following.
 */
export async function followNodeReclaim(deps: {
  store: EventStore;
  nodeId: string;
  onReclaimed: () => void;
  logger: Logger;
}): Promise<{ close(): Promise<void> }> {
  const { store, logger } = deps;
  const nodeEvents = store.subscribeToAll({ afterPosition: await store.headPosition(), category: StreamCategory.node });
  const watching = (async () => {
    for await (const recorded of nodeEvents) {
      const e = decodeEvent(recorded);
      if (e?.type === "eas.v1.NodeReclaimed" && e.data.nodeId === deps.nodeId) {
        deps.onReclaimed();
        return;
      }
    }
  })().catch((error: unknown) => logger.error({ err: error }, "stopped following node events"));
  return {
    async close() {
      await nodeEvents.close();
      await watching;
    },
  };
}
