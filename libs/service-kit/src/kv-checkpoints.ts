import type { Kvm, KV } from "@nats-io/kv";
import type { Checkpoint, CheckpointStore } from "@eas/projections";

/** Checkpoints (position + snapshot) in a NATS KV bucket (`bus.keyValue()`), one key per service and projection. */
export async function openKvCheckpointStore(buckets: Kvm, owner: string, bucket = "eas_checkpoints"): Promise<CheckpointStore> {
  const kv: KV = await buckets.create(bucket, { history: 1 });
  const key = (projection: string) => `${owner}.${projection}`;
  return {
    async load(projection) {
      const entry = await kv.get(key(projection));
      if (!entry || entry.operation !== "PUT" || entry.length === 0) return undefined;
      return entry.json<Checkpoint>();
    },
    async save(projection, checkpoint) {
      await kv.put(key(projection), JSON.stringify(checkpoint));
    },
    async clear(projection) {
      await kv.delete(key(projection));
    },
  };
}
