import { createReadStream, createWriteStream } from "node:fs";
import { access, constants, rename, rm, stat } from "node:fs/promises";
import { dirname } from "node:path";
import { createInterface } from "node:readline";
import { Readable } from "node:stream";
import { finished } from "node:stream/promises";
import type { ReadableStream as NodeReadableStream } from "node:stream/web";
import type { Objm, ObjectStore } from "@nats-io/obj";
import { NotFoundError, ValidationError } from "@eas/decider";
import { isObjectUrl, ObjectUrlError, parseObjectUrl } from "@eas/object-store";

/** Where a batch job reads its input or writes its output. */
export type BatchLocation =
  | { readonly kind: "object"; readonly url: string; readonly bucket: string; readonly key: string }
  | { readonly kind: "file"; readonly url: string; readonly path: string };

/**
 * Reads `obj://bucket/key` (the cluster's object store) or `file:///absolute/path` (a file on the async-queue's
 * machine); `field` names the request field in the error.
 */
export function parseLocation(url: string, field: "input" | "output"): BatchLocation {
  const invalid = (message: string) => new ValidationError([{ path: field, message }]);
  if (isObjectUrl(url)) {
    let parsed;
    try {
      parsed = parseObjectUrl(url);
    } catch (error) {
      if (error instanceof ObjectUrlError) throw invalid(`${JSON.stringify(url)}: ${error.message}`);
      throw error;
    }
    if (parsed.prefix) throw invalid(`${JSON.stringify(url)} names a folder: give the object, obj://bucket/key`);
    return { kind: "object", url, bucket: parsed.bucket, key: parsed.key };
  }
  if (url.startsWith("file://")) {
    const path = url.slice("file://".length);
    if (!path.startsWith("/") || path.split("/").includes(".."))
      throw invalid(`${JSON.stringify(url)} must be file:///absolute/path, without ".."`);
    return { kind: "file", url, path };
  }
  throw invalid(`must be obj://bucket/key or file:///absolute/path, got ${JSON.stringify(url)}`);
}

/**
 * The input and output of batch jobs: lines read from an object or a file, outputs written whole at the end
 * (an object is replaced in one put; a file is written beside and renamed over), so nothing half-written is seen.
 */
export class BatchFiles {
  readonly #objm: Objm;

  constructor(objm: Objm) {
    this.#objm = objm;
  }

  /** Fails with NOT_FOUND naming the input when it does not exist. */
  async checkInput(location: BatchLocation): Promise<void> {
    const missing = () => new NotFoundError("input", location.url);
    if (location.kind === "file") {
      const info = await stat(location.path).catch(() => undefined);
      if (!info?.isFile()) throw missing();
      return;
    }
    const store = await this.#bucket(location.bucket);
    if (!store || !(await store.info(location.key))) throw missing();
  }

  /** Fails with INVALID_ARGUMENT naming the output when it cannot be written (a file's folder missing or read-only). */
  async checkOutput(location: BatchLocation): Promise<void> {
    if (location.kind === "object") return;
    const folder = dirname(location.path);
    try {
      await access(folder, constants.W_OK);
    } catch {
      throw new ValidationError([{ path: "output", message: `cannot write ${location.url}: ${folder} is not a writable folder` }]);
    }
  }

  /** The input's lines, without their newlines (a last newline ends the last line, it does not start another). */
  async *lines(location: BatchLocation): AsyncGenerator<string> {
    const input = await this.#open(location);
    const reader = createInterface({ input, crlfDelay: Infinity });
    try {
      for await (const line of reader) yield line;
    } finally {
      reader.close();
      input.destroy();
    }
  }

  async countLines(location: BatchLocation): Promise<number> {
    let count = 0;
    for await (const _line of this.lines(location)) count++;
    return count;
  }

  /** Writes the output whole from `chunks`. */
  async write(location: BatchLocation, chunks: AsyncIterable<Uint8Array>, jobId: string): Promise<void> {
    if (location.kind === "object") {
      const store = await this.#objm.create(location.bucket);
      const body = Readable.toWeb(Readable.from(chunks)) as unknown as ReadableStream<Uint8Array>;
      await store.put({ name: location.key }, body);
      return;
    }
    const partial = `${location.path}.${jobId}.partial`;
    try {
      const out = createWriteStream(partial);
      for await (const chunk of chunks) if (!out.write(chunk)) await new Promise<void>((resolve) => out.once("drain", () => resolve()));
      out.end();
      await finished(out);
      await rename(partial, location.path);
    } catch (error) {
      await rm(partial, { force: true });
      throw error;
    }
  }

  async #open(location: BatchLocation): Promise<Readable> {
    if (location.kind === "file") return createReadStream(location.path);
    const store = await this.#bucket(location.bucket);
    const object = store ? await store.get(location.key) : null;
    if (!object) throw new NotFoundError("input", location.url);
    return Readable.fromWeb(object.data as unknown as NodeReadableStream<Uint8Array>);
  }

  async #bucket(bucket: string): Promise<ObjectStore | undefined> {
    try {
      return await this.#objm.open(bucket);
    } catch {
      return undefined;
    }
  }
}
