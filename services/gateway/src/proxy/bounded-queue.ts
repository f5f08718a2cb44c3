/** A handle to an entry of a {@link BoundedQueue}, for O(1) removal (a timed-out or abandoned waiter). */
export interface QueueNode<T> {
  readonly value: T;
}

interface Link<T> extends QueueNode<T> {
  prev: Link<T> | null;
  next: Link<T> | null;
  queued: boolean;
}

/**
 * A FIFO with a fixed capacity and O(1) removal from the middle: the waiting
 * room of a service whose instances are all at their concurrency limit.
 * A doubly linked list rather than an array because waiters leave from
 * anywhere (timeouts, client disconnects) and the queue is only touched on the
 * slow path, when every instance is busy.
 */
export class BoundedQueue<T> {
  #capacity: number;
  #head: Link<T> | null = null;
  #tail: Link<T> | null = null;
  #size = 0;

  constructor(capacity: number) {
    this.#capacity = Math.max(0, capacity);
  }

  get size(): number {
    return this.#size;
  }

  get capacity(): number {
    return this.#capacity;
  }

  /** Changes the capacity; entries already queued beyond it stay (they are not evicted). */
  set capacity(capacity: number) {
    this.#capacity = Math.max(0, capacity);
  }

  get isFull(): boolean {
    return this.#size >= this.#capacity;
  }

  /** Appends `value`; returns its node, or undefined when the queue is full (at `capacity`, the queue's own by default). */
  push(value: T, capacity = this.#capacity): QueueNode<T> | undefined {
    if (this.#size >= capacity) return undefined;
    const link: Link<T> = { value, prev: this.#tail, next: null, queued: true };
    if (this.#tail) this.#tail.next = link;
    else this.#head = link;
    this.#tail = link;
    this.#size++;
    return link;
  }

  /** Puts `value` first regardless of capacity (a request that already held a slot and must be re-dispatched). */
  unshift(value: T): QueueNode<T> {
    const link: Link<T> = { value, prev: null, next: this.#head, queued: true };
    if (this.#head) this.#head.prev = link;
    else this.#tail = link;
    this.#head = link;
    this.#size++;
    return link;
  }

  /** The oldest value, without removing it. */
  peek(): T | undefined {
    return this.#head?.value;
  }

  /** Removes and returns the oldest value. */
  shift(): T | undefined {
    const head = this.#head;
    if (!head) return undefined;
    this.#unlink(head);
    return head.value;
  }

  /** Removes `node` if it is still queued; returns whether it was. */
  remove(node: QueueNode<T>): boolean {
    const link = node as Link<T>;
    if (!link.queued) return false;
    this.#unlink(link);
    return true;
  }

  /** Removes and returns every value, oldest first. */
  drain(): T[] {
    const values: T[] = [];
    for (let link = this.#head; link; link = this.#head) {
      this.#unlink(link);
      values.push(link.value);
    }
    return values;
  }

  #unlink(link: Link<T>): void {
    if (link.prev) link.prev.next = link.next;
    else this.#head = link.next;
    if (link.next) link.next.prev = link.prev;
    else this.#tail = link.prev;
    link.prev = null;
    link.next = null;
    link.queued = false;
    this.#size--;
  }
}
