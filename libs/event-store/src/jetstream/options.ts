import type { NatsConnection } from "@nats-io/transport-node";
import { InvalidEventError } from "../errors.js";
import { DEFAULT_RETRY_POLICY, type RetryPolicy } from "../retry.js";

/** Options of the JetStream adapter. Either `servers` (the store connects and owns the connection) or `nc`. */
export interface JetStreamEventStoreOptions {
  /** NATS server URL(s), e.g. "nats://127.0.0.1:4222". */
  servers?: string | string[];
  /** An existing connection; the store does not close it. */
  nc?: NatsConnection;
  /** JetStream stream holding the log; default "EAS_LOG". */
  streamName?: string;
  /**
   * Prefix of the subjects on which the stream republishes every event it stored, once each, in log order:
   * the subjects outside systems subscribe to; default "eas.events" ("eas.events.<category>.<id>").
   */
  subjectPrefix?: string;
  /**
   * Prefix of the subjects appends are published on and events are stored under (what JetStream consumers
   * filter on); default: `subjectPrefix` with its last token replaced by "log" ("eas.log"). A plain NATS
   * subscription here would also see appends the stream rejects: it is internal.
   */
  logSubjectPrefix?: string;
  /**
   * A stream in the layout before RePublish (events stored on `<subjectPrefix>.>`) to migrate from on
   * connect; default "EAS_EVENTS" when `streamName` is the default, none otherwise.
   */
  legacyStreamName?: string;
  /** How long the server remembers event ids for idempotent retries; default 2 minutes. */
  duplicateWindowMs?: number;
  /** Stream replicas when the store creates the stream; default 1 (3 on a cluster). */
  replicas?: number;
  /** CloudEvents `source` used when an event's metadata has none; default "eas". */
  source?: string;
  /** Retries of transient failures; default 15 s budget, 50 ms doubling up to 1 s. */
  retry?: Partial<RetryPolicy>;
  /** Timeout of each JetStream API request and publish; default 5 s. */
  requestTimeoutMs?: number;
  /** A read gives up with EventStoreUnavailableError when no message arrives for this long while some are pending; default 10 s. */
  readIdleTimeoutMs?: number;
  /** Connection name shown by the server (only with `servers`); default "eas-event-store". */
  connectionName?: string;
  /** Time of an append, used when an event has no `time`; default `new Date()`. */
  clock?: () => Date;
}

/** The options with every default filled in (the one place defaults live). */
export interface ResolvedJetStreamOptions {
  streamName: string;
  subjectPrefix: string;
  logSubjectPrefix: string;
  legacyStreamName: string | undefined;
  duplicateWindowMs: number;
  replicas: number;
  source: string;
  retry: RetryPolicy;
  requestTimeoutMs: number;
  readIdleTimeoutMs: number;
  connectionName: string;
  clock: () => Date;
}

/** Fills in the defaults of the JetStream adapter's options. */
export function withDefaults(options: JetStreamEventStoreOptions): ResolvedJetStreamOptions {
  const subjectPrefix = options.subjectPrefix ?? "eas.events";
  const logSubjectPrefix = options.logSubjectPrefix ?? siblingPrefix(subjectPrefix, "log");
  if (subjectsOverlap(subjectPrefix, logSubjectPrefix)) {
    throw new InvalidEventError(`logSubjectPrefix ${logSubjectPrefix} and subjectPrefix ${subjectPrefix} must not overlap`);
  }
  return {
    streamName: options.streamName ?? "EAS_LOG",
    subjectPrefix,
    logSubjectPrefix,
    legacyStreamName: options.legacyStreamName ?? (options.streamName === undefined ? "EAS_EVENTS" : undefined),
    duplicateWindowMs: options.duplicateWindowMs ?? 120_000,
    replicas: options.replicas ?? 1,
    source: options.source ?? "eas",
    retry: { ...DEFAULT_RETRY_POLICY, ...options.retry },
    requestTimeoutMs: options.requestTimeoutMs ?? 5_000,
    readIdleTimeoutMs: options.readIdleTimeoutMs ?? 10_000,
    connectionName: options.connectionName ?? "eas-event-store",
    clock: options.clock ?? (() => new Date()),
  };
}

/** "eas.events" -> "eas.log": the prefix with its last token replaced ("x" -> "x_log" for one token). */
function siblingPrefix(prefix: string, token: string): string {
  const dot = prefix.lastIndexOf(".");
  return dot < 0 ? `${prefix}_${token}` : `${prefix.slice(0, dot)}.${token}`;
}

/** Whether `a.>` and `b.>` share a subject: one prefix is the other or starts with it and a dot. */
function subjectsOverlap(a: string, b: string): boolean {
  return a === b || a.startsWith(`${b}.`) || b.startsWith(`${a}.`);
}
