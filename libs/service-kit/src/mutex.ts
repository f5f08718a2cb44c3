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

/** One FIFO mutex per key, e.g. per aggregate stream. */
export interface KeyedMutex {
  run<T>(key: string, section: () => Promise<T>): Promise<T>;
  /** Keys with a section running or queued; idle keys are forgotten. */
  readonly activeKeys: number;
}

/**
 * Serializes sections that share a key and lets different keys run side by side. Commands on one
 * aggregate inside one process then never race each other for the stream's revision; optimistic
 * concurrency remains the guard between processes.
 */
export function createKeyedMutex(): KeyedMutex {
  const tails = new Map<string, Promise<unknown>>();
  return {
    run<T>(key: string, section: () => Promise<T>): Promise<T> {
      const result = (tails.get(key) ?? Promise.resolve()).then(section);
      const tail = result.catch(() => undefined);
      tails.set(key, tail);
      void tail.then(() => {
        if (tails.get(key) === tail) tails.delete(key);
      });
      return result;
    },
    get activeKeys() {
      return tails.size;
    },
  };
}
