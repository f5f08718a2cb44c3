import type { Status } from "@nats-io/transport-node";
import type { Logger } from "@eas/telemetry";

/** Logs one status change of the NATS connection at the level it deserves. */
export function logStatusChange(logger: Logger, status: Status): void {
  switch (status.type) {
    case "disconnect":
      logger.warn({ server: status.server }, "disconnected from NATS");
      return;
    case "reconnect":
      logger.info({ server: status.server }, "reconnected to NATS");
      return;
    case "reconnecting":
      logger.debug("reconnecting to NATS");
      return;
    case "error":
      logger.error({ err: status.error }, "NATS connection error");
      return;
    case "ldm":
      logger.warn({ server: status.server }, "NATS server entering lame duck mode");
      return;
    case "staleConnection":
      logger.warn("NATS connection stale");
      return;
    case "slowConsumer":
      logger.warn({ subject: status.sub.getSubject(), pending: status.pending }, "slow NATS consumer");
      return;
    case "update":
      logger.debug({ added: status.added, deleted: status.deleted }, "NATS cluster update");
      return;
    case "forceReconnect":
      logger.info("forced NATS reconnect");
      return;
    case "close":
      logger.info("NATS connection closed");
      return;
    case "ping":
      return;
  }
}
