import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { lstat, mkdir, mkdtemp, readFile, readlink, realpath, rm, stat, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { Objm } from "@nats-io/obj";
import { uploadToObjectStore } from "@eas/object-store";
import { startNatsServer, type NatsServerHandle } from "@eas/testing";
import { StorageMount } from "@eas/proto";
import { StorageError, createStorageFetcher, type StorageFetcher } from "./index.js";

function mount(mountPath: string, source: string, readOnly = true): StorageMount {
  return StorageMount.fromPartial({ mountPath, source, readOnly });
}

async function rejectsWith(promise: Promise<unknown>, reason: string, sourceIncludes: string): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof StorageError, `expected StorageError, got ${String(error)}`);
    assert.equal(error.reason, reason);
    assert.ok(error.source.includes(sourceIncludes), error.source);
    assert.ok(error.message.includes(error.source), "the message names the source");
    return true;
  });
}

describe("storage against a real NATS Object Store", () => {
  let nats: NatsServerHandle;
  let nc: NatsConnection;
  let work: string;
  let fetcher: StorageFetcher;
  let cacheDir: string;

  before(async () => {
    nats = await startNatsServer();
    nc = await connect({ servers: nats.url });
    work = await mkdtemp(join(tmpdir(), "eas-storage-"));
    cacheDir = join(work, "cache");
    fetcher = createStorageFetcher({ cacheDir, objectStore: new Objm(nc) });

    await writeFile(join(work, "model.onnx"), "weights-v1");
    await mkdir(join(work, "code", "lib"), { recursive: true });
    await writeFile(join(work, "code", "app.py"), "print('hi')");
    await writeFile(join(work, "code", "lib", "util.py"), "X = 1");
  });

  after(async () => {
    await nc?.close();
    await nats?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it("uploads a file and a folder, creating the bucket", async () => {
    const file = await uploadToObjectStore(nc, join(work, "model.onnx"), "obj://models/resnet/model.onnx");
    assert.deepEqual(
      file.map((object) => [object.name, object.size]),
      [["resnet/model.onnx", 10]],
    );
    assert.match(file[0]!.digest, /^SHA-256=/);
    const folder = await uploadToObjectStore(nc, join(work, "code"), "obj://code/app");
    assert.deepEqual(
      folder.map((object) => object.name),
      ["app/app.py", "app/lib/util.py"],
    );
    const intoPrefix = await uploadToObjectStore(nc, join(work, "model.onnx"), "obj://models/plain/");
    assert.deepEqual(
      intoPrefix.map((object) => object.name),
      ["plain/model.onnx"],
    );
  });

  it("materializes a single object and a folder as symlinks into the cache", async () => {
    const instanceDir = join(work, "i-1");
    const mounted = await fetcher.materialize(
      [mount("/home/admin/model.onnx", "obj://models/resnet/model.onnx"), mount("/home/admin/code/", "obj://code/app/")],
      instanceDir,
    );
    assert.deepEqual(mounted, [
      { mountPath: "/home/admin/model.onnx", localPath: join(instanceDir, "mounts/home/admin/model.onnx") },
      { mountPath: "/home/admin/code", localPath: join(instanceDir, "mounts/home/admin/code") },
    ]);
    assert.equal(await readFile(mounted[0]!.localPath, "utf8"), "weights-v1");
    assert.ok((await lstat(mounted[0]!.localPath)).isSymbolicLink());
    assert.ok((await readlink(mounted[0]!.localPath)).startsWith(cacheDir));
    assert.equal(await readFile(join(mounted[1]!.localPath, "app.py"), "utf8"), "print('hi')");
    assert.equal(await readFile(join(mounted[1]!.localPath, "lib/util.py"), "utf8"), "X = 1");
  });

  it("treats obj://bucket/folder without a trailing slash as the uploaded folder", async () => {
    const [mounted] = await fetcher.materialize([mount("/code", "obj://code/app")], join(work, "i-folder"));
    assert.equal(await readFile(join(mounted!.localPath, "lib/util.py"), "utf8"), "X = 1");
  });

  it("reuses the cache for a second instance: no new download", async () => {
    const first = await realpath(join(work, "i-1/mounts/home/admin/model.onnx"));
    const before = await stat(first);
    await new Promise((resolve) => setTimeout(resolve, 20));
    const mounted = await fetcher.materialize(
      [mount("/m.onnx", "obj://models/resnet/model.onnx"), mount("/code", "obj://code/app/")],
      join(work, "i-2"),
    );
    const second = await realpath(mounted[0]!.localPath);
    assert.equal(second, first);
    const after = await stat(second);
    // Same inode: not downloaded again (its mtime moves on, since it records the entry's last use).
    assert.equal(after.ino, before.ino, "the cached file was not rewritten");
    // A fresh fetcher (an agent restart) finds the same entries on disk.
    const restarted = createStorageFetcher({ cacheDir, objectStore: new Objm(nc) });
    const [again] = await restarted.materialize([mount("/m.onnx", "obj://models/resnet/model.onnx")], join(work, "i-3"));
    assert.equal((await stat(await realpath(again!.localPath))).ino, before.ino);
    assert.equal(await realpath(mounted[1]!.localPath), await realpath(join(work, "i-1/mounts/home/admin/code")));
  });

  it("gives a writable mount a private copy, leaving the cache intact", async () => {
    const [mounted] = await fetcher.materialize([mount("/home/admin/code", "obj://code/app/", false)], join(work, "i-writable"));
    assert.ok((await lstat(mounted!.localPath)).isDirectory());
    await writeFile(join(mounted!.localPath, "app.py"), "changed");
    const [shared] = await fetcher.materialize([mount("/code", "obj://code/app/")], join(work, "i-reader"));
    assert.equal(await readFile(join(shared!.localPath, "app.py"), "utf8"), "print('hi')");
  });

  it("unpacks a .tar.gz object into a folder", async () => {
    const src = join(work, "archive-src");
    await mkdir(join(src, "variables"), { recursive: true });
    await writeFile(join(src, "saved_model.pb"), "graph");
    await writeFile(join(src, "variables", "v.data"), "vars");
    const archive = join(work, "model.tar.gz");
    execFileSync("tar", ["-czf", archive, "-C", src, "."]);
    await uploadToObjectStore(nc, archive, "obj://models/tf/model.tar.gz");
    const [mounted] = await fetcher.materialize([mount("/eas/model", "obj://models/tf/model.tar.gz")], join(work, "i-tar"));
    assert.equal(await readFile(join(mounted!.localPath, "saved_model.pb"), "utf8"), "graph");
    assert.equal(await readFile(join(mounted!.localPath, "variables/v.data"), "utf8"), "vars");
    assert.ok((await realpath(mounted!.localPath)).startsWith(join(cacheDir, "unpacked")));
  });

  it("mounts file:// and absolute local paths as symlinks, and empty_dir:// as a fresh folder", async () => {
    const instanceDir = join(work, "i-local");
    const mounted = await fetcher.materialize(
      [
        mount("/code", pathToFileURL(join(work, "code")).href),
        mount("/model.onnx", join(work, "model.onnx")),
        mount("/tmp/scratch", "empty_dir://"),
      ],
      instanceDir,
    );
    assert.equal(await readlink(mounted[0]!.localPath), join(work, "code"));
    assert.equal(await readlink(mounted[1]!.localPath), join(work, "model.onnx"));
    assert.ok((await lstat(mounted[2]!.localPath)).isDirectory());
    // Materializing again (an instance restart) replaces the layout instead of failing.
    await writeFile(join(mounted[2]!.localPath, "junk"), "x");
    const again = await fetcher.materialize([mount("/tmp/scratch", "empty_dir://")], instanceDir);
    await assert.rejects(stat(join(again[0]!.localPath, "junk")), { code: "ENOENT" });
  });

  it("fails with a typed StorageError naming the source", async () => {
    const dir = join(work, "i-errors");
    await rejectsWith(fetcher.materialize([mount("/m", "obj://models/nope.onnx")], dir), "object-not-found", "nope");
    await rejectsWith(fetcher.materialize([mount("/m", "obj://models/nope/")], dir), "object-not-found", "nope/");
    await rejectsWith(fetcher.materialize([mount("/m", "obj://nobucket/x")], dir), "bucket-not-found", "nobucket");
    await rejectsWith(fetcher.materialize([mount("/m", "oss://bucket/x")], dir), "bad-url", "oss://");
    await rejectsWith(fetcher.materialize([mount("/m", "/does/not/exist")], dir), "path-not-found", "/does/not");
    await rejectsWith(
      fetcher.materialize([mount("/a", "empty_dir://"), mount("/a/b", "empty_dir://x")], dir),
      "bad-mount",
      "empty_dir://x",
    );
    const offline = createStorageFetcher({ cacheDir });
    await rejectsWith(offline.materialize([mount("/m", "obj://models/x")], dir), "no-object-store", "obj://models/x");
  });

  it("sweeps day-old temporary leftovers of a crashed agent, and only those", async () => {
    const tmp = join(cacheDir, "tmp");
    await mkdir(tmp, { recursive: true });
    await writeFile(join(tmp, "old.part"), "half");
    await writeFile(join(tmp, "recent.part"), "in progress elsewhere");
    const twoDaysAgo = new Date(Date.now() - 2 * 24 * 60 * 60 * 1000);
    await utimes(join(tmp, "old.part"), twoDaysAgo, twoDaysAgo);
    await createStorageFetcher({ cacheDir }).materialize([mount("/x", "empty_dir://")], join(work, "i-sweep"));
    await assert.rejects(stat(join(tmp, "old.part")), { code: "ENOENT" });
    await stat(join(tmp, "recent.part"));
    await rm(join(tmp, "recent.part"));
  });

  it("never leaves partial files in the cache", async () => {
    const leftovers = execFileSync("find", [cacheDir, "-name", "*.part"]).toString().trim();
    assert.equal(leftovers, "");
  });
});
