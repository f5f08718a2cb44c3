/** Runs async critical sections one at a time, in call order. */
export interface Mutex {
  /** Runs `section` once every section queued before it has settled; resolves or rejects with its result. */
  run<T>(section: () => Promise<T>): Promise<T>;
}

/** A FIFO async mutex: a promise chain, so a failing section does not block the ones after it. */
export function createMutex(): Mutex {
  let tail: Promise<unknown> = Promise.resolve();
  return {
    run<T>(section: () => Promise<T>): Promise<T> {
      const result = tail.then(section);
      tail = result.catch(() => undefined);
      return result;
    },
  };
}
