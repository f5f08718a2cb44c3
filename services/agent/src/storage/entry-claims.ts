/** The cache entries one materialize holds (absolute paths), released together when it ends. */
export type Claim = Set<string>;

/**
 * Who is using which cache entry right now: the one owner of that state. A materialize holds every
 * entry it looks at until it has linked or copied it; an entry is built once however many ask for it;
 * an eviction pass skips whatever is held, built or being removed, and a materialize that needs an
 * entry being removed waits for the removal, then finds it gone and builds it again.
 */
export class EntryClaims {
  /** Entries held, with how many materializes hold each. */
  readonly #held = new Map<string, number>();
  /**
   * Every entry held at some point while an eviction pass runs: the pass may have looked at the
   * instances' links before a materialize linked the entry, so it must leave those alone too.
   */
  #heldDuringPass: Set<string> | undefined;
  /** Builds in flight, by final path: two instances of one service start together, the second waits for the first's download. */
  readonly #building = new Map<string, Promise<string>>();
  /** Entries being deleted. */
  readonly #removing = new Map<string, Promise<void>>();

  /** Holds `path` for `claim`; call before looking whether the entry exists. Waits while the entry is being removed. */
  async hold(path: string, claim: Claim): Promise<void> {
    if (!claim.has(path)) {
      claim.add(path);
      this.#held.set(path, (this.#held.get(path) ?? 0) + 1);
      this.#heldDuringPass?.add(path);
    }
    await this.#removing.get(path);
  }

  /** Lets go of every entry `claim` holds. */
  release(claim: Claim): void {
    for (const path of claim) {
      const count = (this.#held.get(path) ?? 1) - 1;
      if (count > 0) this.#held.set(path, count);
      else this.#held.delete(path);
    }
  }

  /** Runs `build` for `finalPath` unless one is already running, whose result it then shares. */
  buildOnce(finalPath: string, build: () => Promise<string>): Promise<string> {
    const running = this.#building.get(finalPath);
    if (running) return running;
    const promise = build().finally(() => this.#building.delete(finalPath));
    this.#building.set(finalPath, promise);
    return promise;
  }

  /** Starts an eviction pass (one at a time): from now until {@link endPass}, every entry held is busy. */
  startPass(): void {
    this.#heldDuringPass = new Set(this.#held.keys());
  }

  /** The entries held since the pass started, or being built now: the pass counts them as in use. */
  passBusyPaths(): string[] {
    return [...(this.#heldDuringPass ?? this.#held.keys()), ...this.#building.keys()];
  }

  endPass(): void {
    this.#heldDuringPass = undefined;
  }

  /** Whether an eviction must leave `path` alone: held (now or during this pass), being built or being removed. */
  isBusy(path: string): boolean {
    return this.#held.has(path) || this.#heldDuringPass?.has(path) === true || this.#building.has(path) || this.#removing.has(path);
  }

  /** Runs `removal` of `path`; a materialize that holds `path` meanwhile waits until it has ended. */
  async remove(path: string, removal: () => Promise<boolean>): Promise<boolean> {
    const running = removal();
    this.#removing.set(
      path,
      running.then(
        () => undefined,
        () => undefined,
      ),
    );
    try {
      return await running;
    } finally {
      this.#removing.delete(path);
    }
  }
}
