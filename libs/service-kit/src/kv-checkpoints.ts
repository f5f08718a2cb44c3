import { Kvm, type KV } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Checkpoint, CheckpointStore } from "@eas/projections";

/** Checkpoints (position + snapshot) in a NATS KV bucket, one key per service and projection. */
export async function openKvCheckpointStore(nc: NatsConnection, owner: string, bucket = "eas_checkpoints"): Promise<CheckpointStore> {
  const kv: KV = await new Kvm(nc).create(bucket, { history: 1 });
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
