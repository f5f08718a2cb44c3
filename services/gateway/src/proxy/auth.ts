import { hash, timingSafeEqual } from "node:crypto";

/** SHA-256 of a token: what the gateway keeps per service and compares against. */
export function tokenDigest(token: string): Buffer {
  return hash("sha256", token, "buffer");
}

/**
 * The token in an `Authorization` header value: the value itself (EAS style,
 * `Authorization: <token>`), or what follows a case-insensitive `Bearer `
 * prefix (KServe/OpenAI style). Undefined for an absent or empty header.
 */
export function presentedToken(authorization: string | undefined): string | undefined {
  if (!authorization) return undefined;
  let token = authorization;
  if (token.length > 7 && (token.charCodeAt(6) === 32 || token.charCodeAt(6) === 9) && token.slice(0, 6).toLowerCase() === "bearer") {
    token = token.slice(7).trim();
  }
  return token.length > 0 ? token : undefined;
}

/**
 * Compares a presented token with the digest of the expected one in constant
 * time: both sides are hashed first, so tokens of different lengths take the
 * same path through `timingSafeEqual` (which needs equal lengths) and the
 * comparison leaks neither content nor length.
 */
export function tokenMatches(presented: string | undefined, expectedDigest: Buffer): boolean {
  if (presented === undefined) return false;
  return timingSafeEqual(tokenDigest(presented), expectedDigest);
}
