import { randomUUID } from "node:crypto";
import type { Kvm, KV } from "@nats-io/kv";
import type { Checkpoint, CheckpointStore } from "@eas/projections";

/**
 * A value larger than this is kept in parts: NATS refuses a message over its `max_payload` (1 MiB unless
 * configured), and a projection's snapshot (the billing's intervals) can grow past it.
 */
export const CHECKPOINT_PART_BYTES = 512 * 1024;

/** What the checkpoint's own key holds when its value was split: where the parts are and how to check them. */
interface PartsHeader {
  parts: { generation: string; count: number; bytes: number };
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Checkpoints (position + snapshot) in a NATS KV bucket (`bus.keyValue()`), one key per service and projection.
 * A checkpoint over {@link CHECKPOINT_PART_BYTES} is written in parts (`<key>.part.<n>`, each tagged with a
 * generation) before the key that names them, so a reader never mixes two saves: a missing or stale part
 * makes `load` answer "no checkpoint", and the projection replays the log from zero.
 */
export async function openKvCheckpointStore(
  buckets: Kvm,
  owner: string,
  bucket = "eas_checkpoints",
  partBytes = CHECKPOINT_PART_BYTES,
): Promise<CheckpointStore> {
  const kv: KV = await buckets.create(bucket, { history: 1 });
  const key = (projection: string) => `${owner}.${projection}`;
  const partKey = (projection: string, index: number) => `${key(projection)}.part.${index}`;

  const deleteParts = async (projection: string, from: number) => {
    for await (const name of await kv.keys(`${key(projection)}.part.>`)) {
      const index = Number(name.slice(name.lastIndexOf(".") + 1));
      if (index >= from) await kv.delete(name);
    }
  };

  const loadParts = async (projection: string, header: PartsHeader["parts"]): Promise<Checkpoint | undefined> => {
    const prefix = encoder.encode(`${header.generation}\n`);
    const chunks: Uint8Array[] = [];
    for (let i = 0; i < header.count; i++) {
      const entry = await kv.get(partKey(projection, i));
      if (!entry || entry.operation !== "PUT") return undefined;
      const value = entry.value;
      if (value.length < prefix.length || decoder.decode(value.subarray(0, prefix.length)) !== `${header.generation}\n`) return undefined;
      chunks.push(value.subarray(prefix.length));
    }
    const whole = Buffer.concat(chunks);
    if (whole.length !== header.bytes) return undefined;
    return JSON.parse(decoder.decode(whole)) as Checkpoint;
  };

  return {
    async load(projection) {
      const entry = await kv.get(key(projection));
      if (!entry || entry.operation !== "PUT" || entry.length === 0) return undefined;
      const value = entry.json<Checkpoint | PartsHeader>();
      return "parts" in value ? loadParts(projection, value.parts) : value;
    },
    async save(projection, checkpoint) {
      const bytes = encoder.encode(JSON.stringify(checkpoint));
      if (bytes.length <= partBytes) {
        await kv.put(key(projection), bytes);
        await deleteParts(projection, 0);
        return;
      }
      const generation = randomUUID();
      const tag = encoder.encode(`${generation}\n`);
      const count = Math.ceil(bytes.length / partBytes);
      for (let i = 0; i < count; i++) {
        await kv.put(partKey(projection, i), Buffer.concat([tag, bytes.subarray(i * partBytes, (i + 1) * partBytes)]));
      }
      const header: PartsHeader = { parts: { generation, count, bytes: bytes.length } };
      await kv.put(key(projection), JSON.stringify(header));
      await deleteParts(projection, count);
    },
    async clear(projection) {
      await kv.delete(key(projection));
      await deleteParts(projection, 0);
    },
  };
}
