import { context, ROOT_CONTEXT, SpanKind, trace, type Link } from "@opentelemetry/api";
import type { EventStore } from "@eas/event-store";
import { serviceStream } from "@eas/events";
import { extractTraceContext, recordError, type TraceCarrier } from "@eas/telemetry";
import type { ServiceView } from "../projections/service-views.js";
import { summarizeStatus } from "../projections/status.js";

/** Events that change what a service should run: the reconcile passes they cause belong to their trace. */
const DESIRED_STATE_CHANGES = new Set([
  "eas.v1.ServiceCreated",
  "eas.v1.ServiceUpdated",
  "eas.v1.ServiceScaled",
  "eas.v1.ServiceRolledBack",
  "eas.v1.ServiceStopped",
  "eas.v1.ServiceStarted",
  "eas.v1.ServiceDeleted",
]);

interface Cause {
  /** The view's `updatedAt` when the cause was read: a new desired-state change moves it. */
  updatedAt: string;
  carrier: TraceCarrier;
  /** The service settled since (Running, Stopped or Failed with nothing to do): the change's story is over. */
  converged: boolean;
}

/** Puts the reconciler's work on a service into the trace of the API call that changed the service. */
export interface ReconcileTracing {
  /**
   * Runs `work` (a pass's actions on `service`) inside a `reconcile <service>` span. While the service
   * converges after a desired-state change (CreateService, UpdateService, ScaleService...), the span is a
   * child of that call's span, whose context rides in the event's metadata: one trace from the API call
   * through PlaceInstance and StartInstance to the instance's Ready. Work after the service had converged
   * (a crashed instance replaced days later) starts its own trace, linked to the last change's.
   */
  run(view: ServiceView, work: () => Promise<void>): Promise<void>;
  /** A pass on the service had nothing to do: when it has settled, later work is another story. */
  idle(view: ServiceView): void;
}

const SETTLED = new Set(["Running", "Stopped", "Failed"]);
/** How long after a desired-state change the work it causes still joins its trace, at most. */
const STORY_MAX_MS = 10 * 60_000;

export function createReconcileTracing(store: EventStore): ReconcileTracing {
  const tracer = trace.getTracer("@eas/deployer");
  const causes = new Map<string, Cause>();

  const causeOf = async (service: string, updatedAt: string): Promise<Cause> => {
    const known = causes.get(service);
    if (known?.updatedAt === updatedAt) return known;
    const events = await store.readStream(serviceStream(service));
    const change = events.findLast((e) => DESIRED_STATE_CHANGES.has(e.type));
    const carrier: TraceCarrier = {};
    if (change?.metadata.traceparent) carrier.traceparent = change.metadata.traceparent;
    if (change?.metadata.tracestate) carrier.tracestate = change.metadata.tracestate;
    // A change made long ago (seen again after a deployer restart) is not the story of today's work.
    const stale = change !== undefined && Date.now() - change.time.getTime() > STORY_MAX_MS;
    const cause = { updatedAt, carrier, converged: stale };
    causes.set(service, cause);
    return cause;
  };

  return {
    async run(view, work) {
      const service = view.name;
      // Tracing must never stop the reconciler: without a readable cause the pass gets a trace of its own.
      const cause = await causeOf(service, view.updatedAt).catch(() => undefined);
      const caused = cause ? extractTraceContext(cause.carrier) : ROOT_CONTEXT;
      const causeSpan = trace.getSpanContext(caused);
      const parent = cause && !cause.converged ? caused : ROOT_CONTEXT;
      const links: Link[] = cause?.converged && causeSpan ? [{ context: causeSpan }] : [];
      const span = tracer.startSpan(
        `reconcile ${service}`,
        { kind: SpanKind.INTERNAL, attributes: { "eas.service": service }, links },
        parent,
      );
      try {
        await context.with(trace.setSpan(parent, span), work);
      } catch (error) {
        recordError(span, error);
        throw error;
      } finally {
        span.end();
      }
    },
    idle(view) {
      const cause = causes.get(view.name);
      if (cause && cause.updatedAt === view.updatedAt && SETTLED.has(summarizeStatus(view).status)) cause.converged = true;
    },
  };
}
