import { randomBytes } from "node:crypto";
import type { EventStore } from "@eas/event-store";
import { decodeEvent, serviceStream, tokenSha256 } from "@eas/events";

/**
 * Where the deployer keeps services' clear tokens, by the token's SHA-256 (hex): a NATS KV bucket in a
 * cluster ({@link kvTokenVault}), memory in tests. Nothing but the deployer reads it (ADR 0027).
 */
export interface TokenVault {
  put(sha256: string, token: string): Promise<void>;
  get(sha256: string): Promise<string | undefined>;
  delete(sha256: string): Promise<void>;
}

/** The part of a NATS KV bucket (`bus.keyValue().create(...)`) the vault uses. */
export interface KeyValueBucket {
  put(key: string, value: string): Promise<unknown>;
  get(key: string): Promise<{ operation: string; string(): string } | null>;
  delete(key: string): Promise<unknown>;
}

/** The NATS KV bucket the deployer keeps tokens in. Subscribers to the event log are not given access to it. */
export const TOKEN_BUCKET = "eas_service_tokens";

/** A vault on a NATS KV bucket: one key per token digest (64 hex characters, a valid KV key). */
export function kvTokenVault(bucket: KeyValueBucket): TokenVault {
  return {
    async put(sha256, token) {
      await bucket.put(sha256, token);
    },
    async get(sha256) {
      const entry = await bucket.get(sha256);
      return entry && entry.operation === "PUT" ? entry.string() : undefined;
    },
    async delete(sha256) {
      await bucket.delete(sha256);
    },
  };
}

/** A vault in memory, for tests. */
export function memoryTokenVault(): TokenVault & { readonly entries: ReadonlyMap<string, string> } {
  const entries = new Map<string, string>();
  return {
    entries,
    put: async (sha256, token) => void entries.set(sha256, token),
    get: async (sha256) => entries.get(sha256),
    delete: async (sha256) => void entries.delete(sha256),
  };
}

/** A freshly generated token and its digest. */
export interface IssuedToken {
  readonly token: string;
  readonly sha256: string;
}

/** The deployer's tokens: issued into the vault before the ServiceCreated that names their digest, revealed to API callers. */
export interface ServiceTokens {
  /** Generates a token and keeps it in the vault; the ServiceCreated then records only `sha256`. */
  issue(): Promise<IssuedToken>;
  /**
   * The clear token of a service, by the digest its view holds. A service created before ADR 0027 has its
   * token in its ServiceCreated event: it is read from there once and kept in the vault. "" when unknown.
   */
  reveal(service: string, sha256: string): Promise<string>;
  /** Drops a token nobody will present again (its service was deleted, or its create was refused). */
  forget(sha256: string): Promise<void>;
}

export function createServiceTokens(deps: { vault: TokenVault; store: EventStore }): ServiceTokens {
  const { vault, store } = deps;
  // Tokens never change for a digest: a cache in front of the vault saves a round trip per read.
  const known = new Map<string, string>();

  const fromLegacyEvent = async (service: string, sha256: string): Promise<string | undefined> => {
    // A service deleted and created again has several ServiceCreated: the one whose token has this digest.
    for (const recorded of await store.readStream(serviceStream(service))) {
      const e = decodeEvent(recorded);
      if (e?.type === "eas.v1.ServiceCreated" && e.data.token && tokenSha256(e.data.token) === sha256) return e.data.token;
    }
    return undefined;
  };

  return {
    async issue() {
      const token = randomBytes(24).toString("base64url");
      const sha256 = tokenSha256(token);
      await vault.put(sha256, token);
      known.set(sha256, token);
      return { token, sha256 };
    },
    async reveal(service, sha256) {
      if (!sha256) return "";
      const cached = known.get(sha256);
      if (cached !== undefined) return cached;
      let token = await vault.get(sha256);
      if (token === undefined) {
        token = await fromLegacyEvent(service, sha256);
        if (token !== undefined) await vault.put(sha256, token);
      }
      if (token === undefined) return "";
      known.set(sha256, token);
      return token;
    },
    async forget(sha256) {
      known.delete(sha256);
      await vault.delete(sha256);
    },
  };
}

/**
 * An event's data as WatchEvents returns it: a ServiceCreated written before ADR 0027 holds its service's
 * token in clear, which this API shows as its digest instead (the log itself is never rewritten).
 */
export function withoutClearToken(type: string, data: Record<string, unknown>): Record<string, unknown> {
  if (type !== "eas.v1.ServiceCreated" || typeof data.token !== "string") return data;
  const { token, ...rest } = data;
  return { ...rest, tokenSha256: typeof rest.tokenSha256 === "string" && rest.tokenSha256 ? rest.tokenSha256 : tokenSha256(token) };
}
