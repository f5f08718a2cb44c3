import { context, SpanKind, SpanStatusCode, trace, type Context, type Span } from "@opentelemetry/api";

/**
 * The span of one instance's start, from the StartInstance call to its first Ready (or its failure or
 * stop before that): the end of the trace that a CreateService, an update or a scale begins. The
 * instance events appended meanwhile (Starting, Ready) carry it as their trace context.
 */
export class InstanceStartSpan {
  readonly #span: Span;
  readonly #context: Context;
  #ended = false;

  /** Starts the span as a child of the active span (the agent's StartInstance server span). */
  constructor(attributes: { instanceId: string; service: string; version: number; nodeId: string }) {
    const parent = context.active();
    this.#span = trace.getTracer("@eas/agent").startSpan(
      `instance start ${attributes.service}`,
      {
        kind: SpanKind.INTERNAL,
        attributes: {
          "eas.instance_id": attributes.instanceId,
          "eas.service": attributes.service,
          "eas.version": attributes.version,
          "eas.node_id": attributes.nodeId,
        },
      },
      parent,
    );
    this.#context = trace.setSpan(parent, this.#span);
  }

  /** Runs `fn` with this span active while it is open, so that events appended in `fn` continue its trace. */
  within<T>(fn: () => T): T {
    return this.#ended ? fn() : context.with(this.#context, fn);
  }

  /** Ends the span once: Ready is success; a failure or a stop before Ready is an error with its reason. */
  end(outcome: "Ready" | "Failed" | "Stopped", reason = ""): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#span.setAttribute("eas.outcome", outcome);
    if (outcome !== "Ready") this.#span.setStatus({ code: SpanStatusCode.ERROR, message: reason || outcome });
    this.#span.end();
  }
}
