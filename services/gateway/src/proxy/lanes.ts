/**
 * Where a request of a service goes, decided once at admission and kept while it waits: a number, so that the
 * hot path allocates nothing. {@link STABLE_LANE} and {@link CANARY_LANE} are the two sides of the weighted
 * choice; a positive number is a version pinned with `X-Eas-Version`.
 */
export type Lane = number;

/** Ready instances of every version but the canary's and the withdrawn ones. */
export const STABLE_LANE: Lane = 0;
/** Ready instances of the canary's version. */
export const CANARY_LANE: Lane = -1;

/** The name of the header that pins a request to a version, and that answers name the version that served it. */
export const VERSION_HEADER = "x-eas-version";

/**
 * The version an `X-Eas-Version` value pins: a positive whole number, or -1 when the value is not one. Only
 * digits are accepted (no sign, no spaces inside, no exponent), at most 9 of them.
 */
export function parsePinnedVersion(value: string): number {
  const trimmed = value.trim();
  if (trimmed.length === 0 || trimmed.length > 9) return -1;
  for (let i = 0; i < trimmed.length; i++) {
    const c = trimmed.charCodeAt(i);
    if (c < 48 || c > 57) return -1;
  }
  const version = Number(trimmed);
  return version > 0 ? version : -1;
}
