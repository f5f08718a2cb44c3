import { createHash } from "node:crypto";
import type { ServiceCreated } from "@eas/proto";

/** SHA-256 of a service token, lowercase hex: the form events carry (`ServiceCreated.tokenSha256`). */
export function tokenSha256(token: string): string {
  return createHash("sha256").update(token, "utf8").digest("hex");
}

/**
 * The token digest a ServiceCreated records: its `tokenSha256`, or, in an event written before tokens left
 * the events (ADR 0027), the digest of the clear `token` it holds, so a service created then keeps its token.
 */
export function serviceTokenSha256(created: Pick<ServiceCreated, "token" | "tokenSha256">): string {
  if (created.tokenSha256) return created.tokenSha256;
  return created.token ? tokenSha256(created.token) : "";
}
