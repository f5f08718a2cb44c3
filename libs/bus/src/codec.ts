/** Anything with a zod-style `parse` that returns the typed value or throws. */
export interface Schema<T> {
  parse(input: unknown): T;
}

/** How a subject's messages become bytes and back; `decode` throws on a payload it cannot read. */
export interface Codec<T> {
  encode(value: T): Uint8Array;
  decode(data: Uint8Array): T;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

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

/** JSON payloads, checked against `schema` when there is one. */
export function jsonCodec<T>(schema?: Schema<T>): Codec<T> {
  return { encode: encodeJson, decode: (data) => decodeTyped(data, schema) };
}
