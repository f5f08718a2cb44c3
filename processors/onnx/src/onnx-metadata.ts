/**
 * Reads the top-level fields of an ONNX `ModelProto` that onnxruntime's JavaScript API does
 * not expose (notably `metadata_props`, where exporters store class names). A tiny protobuf
 * wire reader is enough: only top-level fields are read, and the graph is skipped by length,
 * so this costs no copy of the weights and needs no protobuf library at run time.
 */

/** Top-level descriptive fields of an ONNX model. */
export interface OnnxModelInfo {
  readonly irVersion: number | undefined;
  readonly producerName: string | undefined;
  readonly producerVersion: string | undefined;
  readonly domain: string | undefined;
  readonly modelVersion: number | undefined;
  readonly docString: string | undefined;
  /** `metadata_props` as a map (a repeated key wins over an earlier one). */
  readonly metadataProps: Readonly<Record<string, string>>;
}

/** The bytes are not a well-formed protobuf message. */
export class OnnxParseError extends Error {
  override readonly name = "OnnxParseError";
  constructor(
    message: string,
    /** Byte offset where parsing failed. */
    readonly offset: number,
  ) {
    super(`${message} at byte ${offset}`);
  }
}

const decoder = new TextDecoder("utf-8");

class Reader {
  offset = 0;
  constructor(
    private readonly bytes: Uint8Array,
    private readonly end: number = bytes.length,
    start = 0,
  ) {
    this.offset = start;
  }

  done(): boolean {
    return this.offset >= this.end;
  }

  varint(): number {
    let result = 0;
    let multiplier = 1;
    for (let i = 0; i < 10; i += 1) {
      if (this.offset >= this.end) throw new OnnxParseError("truncated varint", this.offset);
      const byte = this.bytes[this.offset] as number;
      this.offset += 1;
      result += (byte & 0x7f) * multiplier;
      if ((byte & 0x80) === 0) return result;
      multiplier *= 128;
    }
    throw new OnnxParseError("varint longer than 10 bytes", this.offset);
  }

  /** Returns [start, end) of a length-delimited field and moves past it. */
  span(): [number, number] {
    const length = this.varint();
    const start = this.offset;
    if (start + length > this.end) throw new OnnxParseError("length-delimited field runs past the end", start);
    this.offset = start + length;
    return [start, start + length];
  }

  string(): string {
    const [start, end] = this.span();
    return decoder.decode(this.bytes.subarray(start, end));
  }

  skip(wireType: number): void {
    switch (wireType) {
      case 0:
        this.varint();
        return;
      case 1:
        this.advance(8);
        return;
      case 2:
        this.span();
        return;
      case 5:
        this.advance(4);
        return;
      default:
        throw new OnnxParseError(`unsupported wire type ${wireType}`, this.offset);
    }
  }

  private advance(count: number): void {
    if (this.offset + count > this.end) throw new OnnxParseError("truncated fixed-width field", this.offset);
    this.offset += count;
  }
}

function readEntry(bytes: Uint8Array, [start, end]: [number, number]): [string, string] {
  const reader = new Reader(bytes, end, start);
  let key = "";
  let value = "";
  while (!reader.done()) {
    const tag = reader.varint();
    const field = Math.floor(tag / 8);
    const wireType = tag & 7;
    if (field === 1 && wireType === 2) key = reader.string();
    else if (field === 2 && wireType === 2) value = reader.string();
    else reader.skip(wireType);
  }
  return [key, value];
}

/** Parses the top-level fields of a serialized ONNX `ModelProto`. */
export function readOnnxModelInfo(bytes: Uint8Array): OnnxModelInfo {
  const reader = new Reader(bytes);
  const info: { -readonly [K in keyof OnnxModelInfo]: OnnxModelInfo[K] } = {
    irVersion: undefined,
    producerName: undefined,
    producerVersion: undefined,
    domain: undefined,
    modelVersion: undefined,
    docString: undefined,
    metadataProps: {},
  };
  const props: Record<string, string> = {};
  while (!reader.done()) {
    const tag = reader.varint();
    const field = Math.floor(tag / 8);
    const wireType = tag & 7;
    if (wireType === 0 && field === 1) info.irVersion = reader.varint();
    else if (wireType === 0 && field === 5) info.modelVersion = reader.varint();
    else if (wireType === 2 && field === 2) info.producerName = reader.string();
    else if (wireType === 2 && field === 3) info.producerVersion = reader.string();
    else if (wireType === 2 && field === 4) info.domain = reader.string();
    else if (wireType === 2 && field === 6) info.docString = reader.string();
    else if (wireType === 2 && field === 14) {
      const [key, value] = readEntry(bytes, reader.span());
      props[key] = value;
    } else reader.skip(wireType);
  }
  info.metadataProps = props;
  return info;
}

/**
 * Class names from model metadata: `classes` (a JSON array of strings, or a comma-separated
 * list), else `labels`; undefined when absent or unreadable.
 */
export function classNamesOf(metadata: Readonly<Record<string, string>>): readonly string[] | undefined {
  const text = metadata.classes ?? metadata.labels;
  if (text === undefined || text.trim() === "") return undefined;
  if (text.trim().startsWith("[")) {
    try {
      const parsed: unknown = JSON.parse(text);
      if (Array.isArray(parsed) && parsed.every((name) => typeof name === "string" || typeof name === "number")) {
        return parsed.map(String);
      }
    } catch {
      return undefined;
    }
    return undefined;
  }
  return text.split(",").map((name) => name.trim());
}
