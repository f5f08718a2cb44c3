import { JetStreamApiError } from "@nats-io/jetstream";
import { errors } from "@nats-io/transport-node";
import { EventStoreError, EventStoreUnavailableError } from "../errors.js";
import { retrying, type RetryPolicy } from "../retry.js";

/**
 * Whether a NATS/JetStream failure may go away by itself: timeouts, no responders and "jetstream not
 * enabled" (what clients see while a stream or meta leader is being elected), dropped connections and
 * JetStream API 503s. This is the one place that knows the NATS client's error classes.
 */
export function isTransient(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (error.name === "JetStreamNotEnabled") return true;
  if (error instanceof errors.TimeoutError || error instanceof errors.NoRespondersError) return true;
  // Request errors: no responders, or the connection dropped while the request was in flight.
  if (error instanceof errors.RequestError) return true;
  if (error instanceof errors.ConnectionError) return true;
  if (error instanceof JetStreamApiError) return error.status === 503 || error.status === 408;
  if (error.name === "JetStreamStatusError") {
    const code = (error as Error & { code?: unknown }).code;
    return code === 503 || code === 408;
  }
  return false;
}

/** Turns any failure into one of our errors: transient or connection-closed ones into EventStoreUnavailableError. */
export function toStoreError(error: unknown, what: string): EventStoreError {
  if (error instanceof EventStoreError) return error;
  const message = error instanceof Error ? error.message : String(error);
  if (isTransient(error) || error instanceof errors.ClosedConnectionError || error instanceof errors.DrainingConnectionError) {
    return new EventStoreUnavailableError(`${what}: ${message}`, error);
  }
  if (error instanceof JetStreamApiError && error.code === 10059) {
    return new EventStoreUnavailableError(`${what}: the JetStream stream does not exist (${message})`, error);
  }
  return new EventStoreError(`${what}: ${message}`, { cause: error, retryable: false });
}

/** `retrying` with the NATS error classification. */
export function withRetry<T>(what: string, policy: RetryPolicy, operation: () => Promise<T>, signal?: AbortSignal): Promise<T> {
  return retrying(what, policy, { isTransient, toStoreError }, operation, signal);
}
