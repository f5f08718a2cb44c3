/**
 * Header handling on the hot path. Names in `rawHeaders` keep the sender's
 * case; instead of lower-casing every name (an allocation each), names are
 * switched on length and only same-length candidates are compared, ASCII
 * case-insensitively, in place.
 */

/** Whether `name` equals `lower` (an all-lower-case ASCII literal), ignoring ASCII case. */
export function equalsIgnoreCase(name: string, lower: string): boolean {
  const n = lower.length;
  if (name.length !== n) return false;
  for (let i = 0; i < n; i++) {
    const c = name.charCodeAt(i);
    // Setting bit 0x20 folds A-Z onto a-z; for '-' and digits both sides are already equal.
    if ((c | 0x20) !== lower.charCodeAt(i)) return false;
  }
  return true;
}

/** What the gateway reads from a client request's headers while copying the forwardable ones. */
export interface ScannedRequestHeaders {
  /** Forwardable headers, flat `[name, value, ...]`, hop-by-hop ones removed. */
  forward: string[];
  authorization: string | undefined;
  requestId: string | undefined;
  /** `X-Eas-Version`: the version the client pins the request to (not forwarded). */
  version: string | undefined;
  forwardedFor: string | undefined;
  host: string | undefined;
  /** -1 when absent. */
  contentLength: number;
  chunked: boolean;
  /** The client sent `Expect: 100-continue` and waits for a 100 before sending its body. */
  expectContinue: boolean;
  /** Tokens of a `Connection` header other than keep-alive/close/upgrade: extra hop-by-hop header names (RFC 9110 7.6.1). */
  connectionTokens: string | undefined;
}

/**
 * Copies `raw` (a request's `rawHeaders`) into forwardable headers, dropping
 * hop-by-hop headers (RFC 9110 7.6.1), `Host` (the upstream pool sets the
 * instance's, as nginx's default `proxy_set_header Host $proxy_host` does), `Expect` (the gateway
 * answers 100-continue itself once the request is admitted), `X-Forwarded-For` and `X-Request-Id` (re-added
 * by the caller), `X-Eas-Version` (a directive to the gateway), and reading the few values the gateway needs.
 */
export function scanRequestHeaders(raw: readonly string[]): ScannedRequestHeaders {
  const forward: string[] = [];
  let authorization: string | undefined;
  let requestId: string | undefined;
  let version: string | undefined;
  let forwardedFor: string | undefined;
  let host: string | undefined;
  let contentLength = -1;
  let chunked = false;
  let expectContinue = false;
  let connectionTokens: string | undefined;
  for (let k = 0; k + 1 < raw.length; k += 2) {
    const name = raw[k] as string;
    const value = raw[k + 1] as string;
    switch (name.length) {
      case 2:
        if (equalsIgnoreCase(name, "te")) continue;
        break;
      case 4:
        if (equalsIgnoreCase(name, "host")) {
          host = value;
          continue;
        }
        break;
      case 6:
        if (equalsIgnoreCase(name, "expect")) {
          expectContinue = equalsIgnoreCase(value, "100-continue");
          continue;
        }
        break;
      case 7:
        if (equalsIgnoreCase(name, "upgrade") || equalsIgnoreCase(name, "trailer")) continue;
        break;
      case 10:
        if (equalsIgnoreCase(name, "connection")) {
          connectionTokens = extraConnectionTokens(value, connectionTokens);
          continue;
        }
        if (equalsIgnoreCase(name, "keep-alive")) continue;
        break;
      case 12:
        if (equalsIgnoreCase(name, "x-request-id")) {
          requestId = value;
          continue;
        }
        break;
      case 13:
        if (equalsIgnoreCase(name, "authorization")) authorization = value;
        else if (equalsIgnoreCase(name, "x-eas-version")) {
          version = value;
          continue;
        }
        break;
      case 14:
        if (equalsIgnoreCase(name, "content-length")) contentLength = parseContentLength(value);
        break;
      case 15:
        if (equalsIgnoreCase(name, "x-forwarded-for")) {
          forwardedFor = forwardedFor === undefined ? value : `${forwardedFor}, ${value}`;
          continue;
        }
        break;
      case 16:
        if (equalsIgnoreCase(name, "proxy-connection")) continue;
        break;
      case 17:
        if (equalsIgnoreCase(name, "transfer-encoding")) {
          chunked = true;
          continue;
        }
        break;
      case 19:
        if (equalsIgnoreCase(name, "proxy-authorization")) continue;
        break;
      default:
        break;
    }
    forward.push(name, value);
  }
  const scanned = {
    forward,
    authorization,
    requestId,
    version,
    forwardedFor,
    host,
    contentLength,
    chunked,
    expectContinue,
    connectionTokens,
  };
  if (connectionTokens !== undefined) scanned.forward = withoutNamed(forward, connectionTokens);
  return scanned;
}

/** Where {@link responseHeaders} reports the response's Content-Length (-1 when absent). */
export interface ResponseFraming {
  contentLength: number;
}

/**
 * Copies upstream response headers (undici's raw `Buffer` pairs) into a flat
 * list for `writeHead`, dropping hop-by-hop ones, and appends `extra`.
 */
export function responseHeaders(raw: readonly Buffer[], extra: readonly string[], framing?: ResponseFraming): string[] {
  const out: string[] = [];
  let connectionTokens: string | undefined;
  if (framing) framing.contentLength = -1;
  for (let k = 0; k + 1 < raw.length; k += 2) {
    const name = (raw[k] as Buffer).toString("latin1");
    switch (name.length) {
      case 2:
        if (equalsIgnoreCase(name, "te")) continue;
        break;
      case 7:
        if (equalsIgnoreCase(name, "upgrade") || equalsIgnoreCase(name, "trailer")) continue;
        break;
      case 10:
        if (equalsIgnoreCase(name, "connection")) {
          connectionTokens = extraConnectionTokens((raw[k + 1] as Buffer).toString("latin1"), connectionTokens);
          continue;
        }
        if (equalsIgnoreCase(name, "keep-alive")) continue;
        break;
      case 14:
        if (framing && equalsIgnoreCase(name, "content-length")) {
          const value = (raw[k + 1] as Buffer).toString("latin1");
          framing.contentLength = parseContentLength(value);
          out.push(name, value);
          continue;
        }
        break;
      case 16:
        if (equalsIgnoreCase(name, "proxy-connection")) continue;
        break;
      case 17:
        // Node re-frames the body itself (chunked when there is no Content-Length).
        if (equalsIgnoreCase(name, "transfer-encoding")) continue;
        break;
      default:
        break;
    }
    out.push(name, (raw[k + 1] as Buffer).toString("latin1"));
  }
  for (const item of extra) out.push(item);
  return connectionTokens === undefined ? out : withoutNamed(out, connectionTokens);
}

/** Parses a Content-Length value; -1 when absent or malformed (Node's parser rejects malformed ones before we see them). */
function parseContentLength(value: string): number {
  const n = Number(value);
  return Number.isSafeInteger(n) && n >= 0 ? n : -1;
}

function extraConnectionTokens(value: string, previous: string | undefined): string | undefined {
  // The usual values, without splitting.
  if (equalsIgnoreCase(value, "keep-alive") || equalsIgnoreCase(value, "close") || equalsIgnoreCase(value, "upgrade")) return previous;
  let extra = previous;
  for (const part of value.split(",")) {
    const token = part.trim().toLowerCase();
    if (token === "" || token === "keep-alive" || token === "close" || token === "upgrade") continue;
    extra = extra === undefined ? token : `${extra},${token}`;
  }
  return extra;
}

function withoutNamed(flat: string[], tokens: string): string[] {
  const names = new Set(tokens.split(","));
  const out: string[] = [];
  for (let k = 0; k + 1 < flat.length; k += 2) {
    const name = flat[k] as string;
    if (!names.has(name.toLowerCase())) out.push(name, flat[k + 1] as string);
  }
  return out;
}

/** Splits `/api/predict/{service}[/sub/path][?query]` into the service and the upstream path (`/` when empty). */
export function splitPredictUrl(url: string): { service: string; path: string } | undefined {
  if (!url.startsWith(PREDICT_PREFIX)) return undefined;
  const n = url.length;
  let i = PREDICT_PREFIX.length;
  while (i < n) {
    const c = url.charCodeAt(i);
    if (c === 47 /* / */ || c === 63 /* ? */) break;
    i++;
  }
  if (i === PREDICT_PREFIX.length) return undefined;
  const service = url.slice(PREDICT_PREFIX.length, i);
  const path = i === n ? "/" : url.charCodeAt(i) === 63 ? `/${url.slice(i)}` : url.slice(i);
  return { service, path };
}

/** The inference path prefix. */
export const PREDICT_PREFIX = "/api/predict/";
