import { jsonCodec, type Codec, type Schema } from "./codec.js";
import { InvalidSubjectError } from "./errors.js";

/** Options of {@link defineSubject} and {@link defineEncodedSubject}. */
export interface SubjectOptions {
  /**
   * Whether messages carry trace context and get PRODUCER/CONSUMER spans; on by
   * default. Turn it off for high-rate telemetry (heartbeats, per-second metrics),
   * where a trace per message would only be noise.
   */
  traced?: boolean;
}

/** A typed publish/subscribe subject. Build one with {@link defineSubject}. */
export interface Subject<T> {
  /** The subject as defined, wildcards included, e.g. `eas.telemetry.heartbeat.*`; names spans. */
  readonly pattern: string;
  /** The NATS subject after the tokens filled so far, e.g. `eas.telemetry.heartbeat.node-1`. */
  readonly subject: string;
  readonly traced: boolean;
  /** Whether no `*` or `>` is left, which publishing needs. */
  readonly concrete: boolean;
  /** Turns messages into payloads and back: JSON for {@link defineSubject}, the given codec for {@link defineEncodedSubject}. */
  readonly codec: Codec<T>;
  /** The same subject with its leftmost `*` wildcards replaced by `tokens`, in order. */
  with(...tokens: string[]): Subject<T>;
}

// NATS forbids these inside a token; `.` separates tokens.
const FORBIDDEN_IN_TOKEN = /[\s.*>]/;

/**
 * A typed publish/subscribe subject with JSON payloads. `pattern` may hold `*`
 * wildcards (filled with {@link Subject.with} or the publish `token` option) and a
 * trailing `>` (subscribe only). Pass a schema to validate what arrives; without
 * one the payload is trusted to be `T`.
 *
 * @example
 * const heartbeat = defineSubject<Heartbeat>("eas.telemetry.heartbeat.*", undefined, { traced: false });
 * bus.publish(heartbeat.with(nodeId), beat);
 * bus.subscribe(heartbeat, (beat, { tokens: [nodeId] }) => ...);
 */
export function defineSubject<T>(pattern: string, schema?: Schema<T>, options: SubjectOptions = {}): Subject<T> {
  return defineEncodedSubject(pattern, jsonCodec(schema), options);
}

/**
 * A subject whose payloads are not JSON: `codec` writes and reads the bytes (protobuf-encoded
 * per-second samples, for instance). A payload `codec.decode` throws on is logged and dropped.
 */
export function defineEncodedSubject<T>(pattern: string, codec: Codec<T>, options: SubjectOptions = {}): Subject<T> {
  validatePattern(pattern);
  return messageSubject(pattern, pattern, codec, options.traced ?? true);
}

function messageSubject<T>(pattern: string, subject: string, codec: Codec<T>, traced: boolean): Subject<T> {
  return {
    pattern,
    subject,
    traced,
    concrete: isConcrete(subject),
    codec,
    with: (...tokens) => messageSubject(pattern, fillWildcards(subject, tokens), codec, traced),
  };
}

/** Throws {@link InvalidSubjectError} unless `pattern` is a subject NATS accepts for subscribing. */
export function validatePattern(pattern: string): void {
  if (pattern.length === 0) throw new InvalidSubjectError(pattern, "empty");
  const tokens = pattern.split(".");
  tokens.forEach((token, index) => {
    if (token === "*") return;
    if (token === ">") {
      if (index !== tokens.length - 1) throw new InvalidSubjectError(pattern, "'>' must be the last token");
      return;
    }
    if (token.length === 0) throw new InvalidSubjectError(pattern, "empty token");
    if (FORBIDDEN_IN_TOKEN.test(token)) throw new InvalidSubjectError(pattern, `bad token "${token}"`);
  });
}

/** Replaces the leftmost `*` wildcards of `subject` with `tokens`, in order. */
export function fillWildcards(subject: string, tokens: readonly string[]): string {
  const parts = subject.split(".");
  let next = 0;
  const filled = parts.map((part) => {
    if (part !== "*" || next >= tokens.length) return part;
    const token = tokens[next++] ?? "";
    if (token.length === 0 || FORBIDDEN_IN_TOKEN.test(token)) {
      throw new InvalidSubjectError(subject, `token "${token}" is empty or holds '.', '*', '>' or whitespace`);
    }
    return token;
  });
  if (next < tokens.length) {
    throw new InvalidSubjectError(subject, `${tokens.length} tokens given for ${next} '*' wildcards`);
  }
  return filled.join(".");
}

/**
 * The values that the `*` and `>` wildcards of `pattern` matched in `subject`
 * (a `>` match is one string, dots included).
 */
export function wildcardTokens(pattern: string, subject: string): string[] {
  const patternParts = pattern.split(".");
  const subjectParts = subject.split(".");
  const tokens: string[] = [];
  patternParts.forEach((part, index) => {
    if (part === "*") tokens.push(subjectParts[index] ?? "");
    else if (part === ">") tokens.push(subjectParts.slice(index).join("."));
  });
  return tokens;
}

function isConcrete(subject: string): boolean {
  return !subject.split(".").some((token) => token === "*" || token === ">");
}
