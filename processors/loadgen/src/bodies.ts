/** Where request bodies come from and how they are cut (the task's `data` section, as the controller passes it on). */
export interface BodySource {
  readonly binary: boolean;
  /** One body per line (base64 lines when binary); otherwise the whole data is one body. */
  readonly multiLine: boolean;
}

/** Cuts the task's data into request bodies. Empty data (or only empty lines) gives none: requests without a body. */
export function bodiesOf(data: Uint8Array, source: BodySource): Buffer[] {
  const bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (bytes.length === 0) return [];
  if (!source.multiLine) return [bytes];
  const lines = bytes
    .toString("utf8")
    .split("\n")
    .map((line) => line.replace(/\r$/, ""))
    .filter((line) => line.length > 0);
  return lines.map((line) => (source.binary ? Buffer.from(line, "base64") : Buffer.from(line, "utf8")));
}
