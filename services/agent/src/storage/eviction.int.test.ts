import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdir, mkdtemp, readFile, readdir, realpath, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { Objm } from "@nats-io/obj";
import { uploadToObjectStore } from "@eas/object-store";
import { startNatsServer, waitFor, type NatsServerHandle } from "@eas/testing";
import { StorageMount } from "@eas/proto";
import { createStorageFetcher, digestKey, type EvictionReport, type ObjectStoreOpener, type StorageFetcher } from "./index.js";

const OBJECT_BYTES = 1000;

function mount(mountPath: string, source: string): StorageMount {
  return StorageMount.fromPartial({ mountPath, source, readOnly: true });
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/** Lets mtimes (the last-used record, in ms) of consecutive uses differ. */
function tick(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 15));
}

describe("cache eviction against a real NATS Object Store", () => {
  let nats: NatsServerHandle;
  let nc: NatsConnection;
  let work: string;

  before(async () => {
    nats = await startNatsServer();
    nc = await connect({ servers: nats.url });
    work = await mkdtemp(join(tmpdir(), "eas-eviction-"));
    for (const name of ["a", "b", "c"]) {
      await writeFile(join(work, `${name}.onnx`), name.repeat(OBJECT_BYTES));
      await uploadToObjectStore(nc, join(work, `${name}.onnx`), `obj://models/${name}.onnx`);
    }
  });

  after(async () => {
    await nc?.close();
    await nats?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  describe("with a budget that fits two of three objects", () => {
    let cacheDir: string;
    let instancesDir: string;
    let fetcher: StorageFetcher;
    const reports: EvictionReport[] = [];
    const errors: unknown[] = [];
    /** Cache entry (relative path) of each object, learned from its first mount. */
    const entryOf: Record<string, string> = {};

    before(() => {
      cacheDir = join(work, "lru", "cache");
      instancesDir = join(work, "lru", "instances");
      fetcher = createStorageFetcher({
        cacheDir,
        objectStore: new Objm(nc),
        eviction: {
          maxBytes: 2.5 * OBJECT_BYTES,
          instancesDir,
          onPass: (report) => reports.push(report),
          onError: (error) => errors.push(error),
        },
      });
    });

    /** Mounts object `name` for instance `id` and checks the instance reads the right bytes. */
    async function start(id: string, name: string): Promise<void> {
      const [mounted] = await fetcher.materialize([mount("/model.onnx", `obj://models/${name}.onnx`)], join(instancesDir, id));
      assert.equal(await readFile(mounted!.localPath, "utf8"), name.repeat(OBJECT_BYTES));
      entryOf[name] ??= relative(cacheDir, await realpath(mounted!.localPath));
    }

    /** What the supervisor does when an instance stops: its folder, with its mount links, goes. */
    async function stop(id: string): Promise<void> {
      await rm(join(instancesDir, id), { recursive: true, force: true });
    }

    const cached = (name: string) => exists(join(cacheDir, entryOf[name]!));

    it("evicts the least recently used unused entry after a materialize, not the oldest fetched", async () => {
      await start("i-a", "a");
      await tick();
      await start("i-b", "b");
      await tick();
      // A second use of "a" makes "b" the least recently used, although "a" was fetched first.
      await start("i-a2", "a");
      await stop("i-a");
      await stop("i-a2");
      await stop("i-b");
      await fetcher.evictUnused();
      assert.ok((await cached("a")) && (await cached("b")), "two objects fit the budget: nothing evicted yet");

      await start("i-c", "c");
      // No explicit pass: the materialize itself starts one.
      await waitFor("b evicted", async () => !(await cached("b")));
      await fetcher.evictUnused();
      assert.ok(await cached("a"), "a was used more recently than b");
      assert.ok(await cached("c"), "c is in use");
      const evicted = reports.flatMap((report) => report.evicted.map((entry) => entry.path));
      assert.deepEqual(evicted, [entryOf.b]);
      assert.deepEqual(errors, []);
    });

    it("fetches an evicted object again on its next materialize, and keeps entries in use over budget", async () => {
      // "b" was evicted; "a" is the only unused entry, so it goes to make room.
      await start("i-b2", "b");
      await waitFor("a evicted", async () => !(await cached("a")));
      assert.ok((await cached("b")) && (await cached("c")));

      await start("i-a3", "a");
      await fetcher.evictUnused();
      for (const name of ["a", "b", "c"]) assert.ok(await cached(name), `${name} is in use and stays`);
      const last = reports.at(-1)!;
      assert.deepEqual(last.evicted, []);
      assert.equal(last.remainingBytes, 3 * OBJECT_BYTES);
      assert.ok(last.remainingBytes > last.maxBytes, "the pass reports the cache over its budget");
      assert.deepEqual(errors, []);
    });
  });

  it("never evicts an entry a materialize is still fetching", async () => {
    const folder = join(work, "folder");
    await mkdir(folder, { recursive: true });
    await writeFile(join(folder, "a.bin"), "first object");
    await writeFile(join(folder, "b.bin"), "second object");
    const uploaded = await uploadToObjectStore(nc, folder, "obj://slow/model");
    const blobOfA = join(work, "slow", "cache", "objects", digestKey({ ...uploaded[0]!, nuid: "" }));

    // The real store, with the second object's download held back until the test lets it go.
    const objm = new Objm(nc);
    let reachedB!: () => void;
    const reachedSecond = new Promise<void>((resolve) => (reachedB = resolve));
    let releaseB!: () => void;
    const gate = new Promise<void>((resolve) => (releaseB = resolve));
    const gated: ObjectStoreOpener = {
      async open(bucket) {
        const store = await objm.open(bucket);
        return {
          info: (name) => store.info(name),
          list: () => store.list(),
          async get(name) {
            if (name.endsWith("b.bin")) {
              reachedB();
              await gate;
            }
            return await store.get(name);
          },
        };
      },
    };
    const errors: unknown[] = [];
    const cacheDir = join(work, "slow", "cache");
    const fetcher = createStorageFetcher({
      cacheDir,
      objectStore: gated,
      eviction: { maxBytes: 1, instancesDir: join(work, "slow", "instances"), onError: (error) => errors.push(error) },
    });

    const pending = fetcher.materialize([mount("/model", "obj://slow/model/")], join(work, "slow", "instances", "i-1"));
    await reachedSecond;
    assert.ok(await exists(blobOfA), "the first object is in the cache while the second downloads");
    await fetcher.evictUnused();
    assert.ok(await exists(blobOfA), "a pass over budget left the held entry alone");

    releaseB();
    const [mounted] = await pending;
    assert.equal(await readFile(join(mounted!.localPath, "a.bin"), "utf8"), "first object");
    assert.equal(await readFile(join(mounted!.localPath, "b.bin"), "utf8"), "second object");

    // Once the tree is linked and the materialize has let go, its blobs are unused like any other entry.
    await fetcher.evictUnused();
    assert.deepEqual(await readdir(join(cacheDir, "objects")), []);
    assert.equal(await readFile(join(mounted!.localPath, "b.bin"), "utf8"), "second object");
    assert.deepEqual(errors, []);
  });
});
