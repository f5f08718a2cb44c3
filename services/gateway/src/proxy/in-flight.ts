/**
 * The requests in flight through the gateway and whether it is shutting down: the part a graceful
 * close waits on. Exchanges count in when admitted and out when finished.
 */
export class InFlight {
  #closing = false;
  #active = 0;
  #idle: (() => void) | null = null;

  /** The gateway is shutting down: answers close their connection, upgrades are refused. */
  get closing(): boolean {
    return this.#closing;
  }

  begin(): void {
    this.#active++;
  }

  end(): void {
    this.#active--;
    if (this.#active === 0 && this.#idle) this.#idle();
  }

  /** From now on {@link closing} is true. */
  startClosing(): void {
    this.#closing = true;
  }

  /** Resolves once nothing is in flight, or after `timeoutMs`. */
  async drained(timeoutMs: number): Promise<void> {
    if (this.#active === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve) => {
      this.#idle = resolve;
      timer = setTimeout(resolve, timeoutMs);
    });
    clearTimeout(timer);
    this.#idle = null;
  }
}
