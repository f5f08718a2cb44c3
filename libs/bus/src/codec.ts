import type { Schema } from "./subject.js";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The body of a reply: exactly one of `result` and `error`. */
export type ReplyEnvelope<Res> = { result: Res } | { error: { code: string; message: string } };

/** JSON bytes of `value`; `undefined` becomes an empty payload. */
export function encodeJson(value: unknown): Uint8Array {
  if (value === undefined) return new Uint8Array(0);
  return encoder.encode(JSON.stringify(value));
}

/** The value of JSON bytes; an empty payload is `undefined`. Throws on malformed JSON. */
export function decodeJson(data: Uint8Array): unknown {
  if (data.length === 0) return undefined;
  return JSON.parse(decoder.decode(data)) as unknown;
}

/** Decodes `data` and checks it against `schema` when there is one. Throws on either failure. */
export function decodeTyped<T>(data: Uint8Array, schema: Schema<T> | undefined): T {
  const value = decodeJson(data);
  return schema ? schema.parse(value) : (value as T);
}

/** Reads a reply body; throws when it is neither `{ result }` nor `{ error: { code, message } }`. */
export function decodeReplyEnvelope(data: Uint8Array): ReplyEnvelope<unknown> {
  const body = decodeJson(data);
  if (typeof body === "object" && body !== null) {
    if ("error" in body) {
      const error = (body as { error: unknown }).error;
      if (typeof error === "object" && error !== null) {
        const { code, message } = error as { code?: unknown; message?: unknown };
        if (typeof code === "string") return { error: { code, message: typeof message === "string" ? message : "" } };
      }
    } else {
      return { result: (body as { result?: unknown }).result };
    }
  }
  throw new TypeError("reply is neither { result } nor { error: { code, message } }");
}
