import type { KV, Kvm } from "@nats-io/kv";
import type { Logger } from "@eas/telemetry";

export interface LeaseOptions {
  /** Bucket of leases; every key expires `ttlMs` after its last write. */
  bucket: string;
  key: string;
  /** Who holds it (logged, and stored as the value). */
  holder: string;
  ttlMs: number;
  logger: Logger;
  /** Called when this process becomes the holder, and when it stops being one. */
  onChange(held: boolean): void;
}

/** One active holder at a time, through a NATS KV key that expires unless its holder renews it. */
export interface Lease {
  readonly held: boolean;
  /** Tries at once, then renews (or tries again) every third of the TTL. */
  start(): Promise<void>;
  /** Stops renewing and deletes the key when it is still ours, so a standby takes over at once. */
  release(): Promise<void>;
}

/**
 * A lease in NATS KV: `create` succeeds only when the key does not exist (or expired), `update` only with
 * the revision this holder wrote last. A holder that cannot renew within the TTL counts itself out before
 * the key expires (it stops at two thirds of the TTL without a renewal), so two holders never overlap while
 * the clocks run at the same rate.
 */
export async function openKvLease(buckets: Kvm, options: LeaseOptions): Promise<Lease> {
  const kv: KV = await buckets.create(options.bucket, { history: 1, ttl: options.ttlMs });
  let revision = 0;
  let renewedAt = 0;
  let held = false;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const value = JSON.stringify({ holder: options.holder });

  const set = (next: boolean) => {
    if (next === held) return;
    held = next;
    options.logger.info({ lease: options.key, holder: options.holder, held }, next ? "lease acquired" : "lease lost");
    options.onChange(next);
  };

  const attempt = async () => {
    try {
      if (revision > 0) {
        try {
          revision = await kv.update(options.key, value, revision);
          renewedAt = Date.now();
          set(true);
          return;
        } catch {
          revision = 0;
        }
      }
      revision = await kv.create(options.key, value);
      renewedAt = Date.now();
      set(true);
    } catch {
      // Someone else holds it, or NATS is away: without a recent renewal we are not the holder.
      if (held && Date.now() - renewedAt > (options.ttlMs * 2) / 3) set(false);
      else if (revision === 0) set(false);
    }
  };

  const loop = async () => {
    await attempt();
    if (!stopped) {
      timer = setTimeout(() => void loop(), Math.max(100, Math.floor(options.ttlMs / 3)));
      timer.unref();
    }
  };

  return {
    get held() {
      return held;
    },
    async start() {
      await loop();
    },
    async release() {
      stopped = true;
      clearTimeout(timer);
      if (held && revision > 0) await kv.delete(options.key, { previousSeq: revision }).catch(() => undefined);
      set(false);
    },
  };
}
