import { defineSubject, type Schema, type Subject } from "@eas/bus";

/**
 * What a gateway publishes on `eas.autoscaler.wake.<service>` the moment it holds a request for a service
 * at zero instances (and again each second while it still holds some): the autoscaler scales it up at once
 * instead of on its next tick.
 */
export interface WakeMessage {
  readonly service: string;
  /** Requests this gateway holds for the service now. */
  readonly held: number;
  /** ISO time at the gateway. */
  readonly at: string;
}

export class InvalidWakeError extends Error {
  readonly field: string;
  constructor(field: string, message: string) {
    super(`invalid wake message: ${field} ${message}`);
    this.name = "InvalidWakeError";
    this.field = field;
  }
}

export const wakeSchema: Schema<WakeMessage> = {
  parse(input: unknown): WakeMessage {
    if (typeof input !== "object" || input === null) throw new InvalidWakeError("body", "must be a JSON object");
    const { service, held, at } = input as Record<string, unknown>;
    if (typeof service !== "string" || service === "") throw new InvalidWakeError("service", "must be a non-empty string");
    if (typeof held !== "number" || !Number.isInteger(held) || held < 0)
      throw new InvalidWakeError("held", "must be a non-negative integer");
    if (typeof at !== "string" || Number.isNaN(Date.parse(at))) throw new InvalidWakeError("at", "must be an ISO time");
    return { service, held, at };
  },
};

/** `eas.autoscaler.wake.<service>`: plain NATS, traced (one message per scale from zero, worth a span). */
export const wakeSubject: Subject<WakeMessage> = defineSubject<WakeMessage>("eas.autoscaler.wake.*", wakeSchema);
