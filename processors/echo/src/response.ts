/** The JSON field added to pad an answer; its overhead is `,"pad":""`. */
const PAD_OVERHEAD = Buffer.byteLength(`,"pad":""`);

/**
 * Renders echo answers. Everything that does not depend on the request (the instance and
 * version fragments, the padding characters) is computed once, because this is the
 * benchmark backend and its own cost must stay far below the proxy's.
 */
export interface EchoRenderer {
  /** The JSON text of `{echo, path, instance, version}`, padded to the configured size. */
  render(echoJson: string, path: string): string;
  /** The JSON text of one streamed event (`index` counts from 0). */
  renderChunk(index: number, echoJson: string): string;
}

/** Static parts of every answer. */
export interface EchoRendererOptions {
  readonly instanceId: string | undefined;
  readonly version: string | undefined;
  /** Pad answers to exactly this many bytes when they are shorter (0: never pad). */
  readonly responseBytes: number;
}

/** Builds an {@link EchoRenderer}. */
export function createEchoRenderer(options: EchoRendererOptions): EchoRenderer {
  const tail = `,"instance":${JSON.stringify(options.instanceId ?? null)},"version":${JSON.stringify(options.version ?? null)}`;
  const target = options.responseBytes;
  const padding = "x".repeat(target);
  return {
    render(echoJson, path) {
      const body = `{"echo":${echoJson},"path":${JSON.stringify(path)}${tail}`;
      if (target === 0) return `${body}}`;
      const gap = target - Buffer.byteLength(body) - 1;
      if (gap <= 0) return `${body}}`;
      // Too small a gap for the pad field: trailing whitespace keeps the JSON valid and the size exact.
      if (gap < PAD_OVERHEAD) return `${body}}${" ".repeat(gap)}`;
      return `${body},"pad":"${padding.slice(0, gap - PAD_OVERHEAD)}"}`;
    },
    renderChunk(index, echoJson) {
      return `{"index":${index},"echo":${echoJson}${tail}}`;
    },
  };
}

/**
 * Turns a request body into the JSON text of the `echo` field: the body itself when it is
 * JSON (validated, then embedded as sent, which saves a stringify), else a JSON string.
 */
export function echoJsonOf(body: Buffer, contentType: string | undefined): string {
  const text = body.toString("utf8");
  if (text.length > 0 && contentType !== undefined && contentType.includes("json")) {
    try {
      JSON.parse(text);
      return text;
    } catch {
      // Not JSON after all: echo it as text, which is what a test comparing bodies wants.
    }
  }
  return JSON.stringify(text);
}
