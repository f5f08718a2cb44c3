/**
 * An `obj://bucket/key` URL of the built-in object store (NATS Object Store), parsed. `prefix` is set when
 * the key is empty or ends in `/`: the URL then names every object under it, which mounts as a folder.
 */
export interface ObjectUrl {
  bucket: string;
  key: string;
  prefix: boolean;
}

export const OBJECT_URL_SCHEME = "obj://";

// NATS Object Store bucket names are stream-name suffixes: letters, digits, `-` and `_`.
const BUCKET_NAME = /^[A-Za-z0-9_-]+$/;

/** Why a string is not an `obj://bucket/key` URL; `message` says what is wrong with it. */
export class ObjectUrlError extends Error {
  override readonly name = "ObjectUrlError";
  constructor(
    readonly url: string,
    message: string,
  ) {
    super(message);
  }
}

/** Whether `url` is spelled as an object store URL (it may still be invalid). */
export function isObjectUrl(url: string): boolean {
  return url.startsWith(OBJECT_URL_SCHEME);
}

/**
 * Parses `obj://bucket[/key]`.
 * @throws ObjectUrlError when it is not an `obj://` URL or its bucket name is invalid.
 */
export function parseObjectUrl(url: string): ObjectUrl {
  if (!isObjectUrl(url)) throw new ObjectUrlError(url, "must be obj://bucket/key");
  const rest = url.slice(OBJECT_URL_SCHEME.length);
  const slash = rest.indexOf("/");
  const bucket = slash === -1 ? rest : rest.slice(0, slash);
  const key = slash === -1 ? "" : rest.slice(slash + 1);
  if (!BUCKET_NAME.test(bucket)) throw new ObjectUrlError(url, `invalid bucket name "${bucket}" (letters, digits, - and _ only)`);
  return { bucket, key, prefix: key === "" || key.endsWith("/") };
}
