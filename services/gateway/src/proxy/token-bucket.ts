/**
 * A token bucket: `ratePerSecond` tokens refill continuously up to `capacity`,
 * each admitted request takes one. Time comes in as an argument (ms, any
 * monotonic origin) so the bucket is a pure unit.
 */
export class TokenBucket {
  readonly ratePerSecond: number;
  readonly capacity: number;
  #tokens: number;
  #last: number;

  /**
   * @param ratePerSecond refill rate; must be positive.
   * @param now current time in ms; the bucket starts full.
   * @param capacity burst size; defaults to one second's worth (at least 1), so a service limited to N req/s accepts a burst of N.
   */
  constructor(ratePerSecond: number, now: number, capacity = Math.max(1, ratePerSecond)) {
    if (!(ratePerSecond > 0)) throw new RangeError(`ratePerSecond must be positive, got ${ratePerSecond}`);
    this.ratePerSecond = ratePerSecond;
    this.capacity = capacity;
    this.#tokens = capacity;
    this.#last = now;
  }

  /** Takes one token when there is one; returns whether the request is admitted. */
  tryTake(now: number): boolean {
    const elapsed = now - this.#last;
    if (elapsed > 0) {
      this.#tokens = Math.min(this.capacity, this.#tokens + (elapsed * this.ratePerSecond) / 1000);
      this.#last = now;
    }
    if (this.#tokens >= 1) {
      this.#tokens -= 1;
      return true;
    }
    return false;
  }

  /** Seconds until the next token, rounded up to at least 1: the `Retry-After` to send with a 429. */
  retryAfterSeconds(): number {
    const missing = 1 - this.#tokens;
    return Math.max(1, Math.ceil(missing / this.ratePerSecond));
  }

  /** Tokens currently available (fractional). */
  get tokens(): number {
    return this.#tokens;
  }
}
