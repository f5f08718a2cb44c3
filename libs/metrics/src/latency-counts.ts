import { deflateSync, inflateSync } from "node:zlib";
import hdr from "hdr-histogram-js";
import { LATENCY_HISTOGRAM_RANGE } from "./latency-shape.js";

// HdrHistogram's V2 encoding (the format Java, Go, Python and JS HdrHistogram libraries share).
const V2_COOKIE = 0x1c849303 | 0x10;
const V2_COMPRESSED_COOKIE = 0x1c849304 | 0x10;
const V2_HEADER_BYTES = 40;

// The bucket layout of LATENCY_HISTOGRAM_RANGE (1 .. 3.6e9, 2 significant digits), as HdrHistogram lays it out.
const SUB_BUCKET_COUNT = 2 ** Math.ceil(Math.log2(2 * 10 ** LATENCY_HISTOGRAM_RANGE.numberOfSignificantValueDigits));
const SUB_BUCKET_HALF_COUNT = SUB_BUCKET_COUNT / 2;
const SUB_BUCKET_HALF_COUNT_MAGNITUDE = Math.log2(SUB_BUCKET_HALF_COUNT);
const COUNTS_LENGTH = (() => {
  let smallestUntrackable = SUB_BUCKET_COUNT;
  let buckets = 1;
  while (smallestUntrackable <= LATENCY_HISTOGRAM_RANGE.highestTrackableValue) {
    smallestUntrackable *= 2;
    buckets++;
  }
  return (buckets + 1) * SUB_BUCKET_HALF_COUNT;
})();

/** The lowest value counted at `index`. */
function valueFromIndex(index: number): number {
  let bucketIndex = (index >> SUB_BUCKET_HALF_COUNT_MAGNITUDE) - 1;
  let subBucketIndex = (index & (SUB_BUCKET_HALF_COUNT - 1)) + SUB_BUCKET_HALF_COUNT;
  if (bucketIndex < 0) {
    subBucketIndex -= SUB_BUCKET_HALF_COUNT;
    bucketIndex = 0;
  }
  return subBucketIndex * 2 ** bucketIndex;
}

/** The index counting `value` (clamped into the range). */
function indexOf(value: number): number {
  const clamped = Math.min(Math.max(Math.round(value), 1), LATENCY_HISTOGRAM_RANGE.highestTrackableValue);
  const bucketIndex = Math.max(0, Math.floor(Math.log2(clamped)) - Math.log2(SUB_BUCKET_COUNT) + 1);
  const subBucketIndex = Math.floor(clamped / 2 ** bucketIndex);
  return (bucketIndex + 1) * SUB_BUCKET_HALF_COUNT + (subBucketIndex - SUB_BUCKET_HALF_COUNT);
}

/** What the HdrHistogram JS classes have but do not declare in their types. */
interface JsHistogramWithIndex {
  countsArrayLength: number;
  getCountAtIndex(index: number): number;
  valueFromIndex(index: number): number;
}

/** The highest value counted at `index` (what HdrHistogram reports for a percentile). */
function highestValueAt(index: number): number {
  return valueFromIndex(index + 1) - 1;
}

function readVarint(bytes: Uint8Array, at: { offset: number }): number {
  // ZigZag LEB128-64b9B: 7 bits a byte, the 9th byte holds 8.
  let value = 0;
  let scale = 1;
  for (let i = 0; i < 9; i++) {
    const byte = bytes[at.offset++]!;
    if (i === 8) {
      value += byte * scale;
      break;
    }
    value += (byte & 0x7f) * scale;
    scale *= 128;
    if ((byte & 0x80) === 0) break;
  }
  return value % 2 === 0 ? value / 2 : -(value + 1) / 2;
}

function writeVarint(out: number[], signed: number): void {
  let value = signed >= 0 ? signed * 2 : -signed * 2 - 1;
  for (let i = 0; i < 8; i++) {
    if (value < 128) {
      out.push(value);
      return;
    }
    out.push((value % 128) | 0x80);
    value = Math.floor(value / 128);
  }
  out.push(value & 0xff);
}

/**
 * Counts of latency histograms of the wire's shape, merged by adding arrays: the monitor merges thousands
 * of encoded histograms a second (gateways of a second, seconds of a minute, steps of a query) without
 * building a histogram object for each. Reads and writes the standard V2 compressed encoding.
 */
export class LatencyCounts {
  readonly counts = new Float64Array(COUNTS_LENGTH);
  total = 0;

  /** Back to no counts, keeping the array (merging thousands of histograms a second allocates nothing then). */
  clear(): void {
    this.counts.fill(0);
    this.total = 0;
  }

  /** Adds an encoded histogram (as `encodeLatencyHistogram` or another HdrHistogram library writes it). */
  addEncoded(encoded: Uint8Array): void {
    if (encoded.length === 0) return;
    const view = new DataView(encoded.buffer, encoded.byteOffset, encoded.byteLength);
    if (view.getInt32(0) !== V2_COMPRESSED_COOKIE) throw new Error("not an HdrHistogram V2 compressed encoding");
    const raw = inflateSync(encoded.subarray(8, 8 + view.getInt32(4)));
    const header = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    if (header.getInt32(0) !== V2_COOKIE) throw new Error("not an HdrHistogram V2 encoding");
    const sameShape =
      header.getInt32(12) === LATENCY_HISTOGRAM_RANGE.numberOfSignificantValueDigits &&
      Number(header.getBigInt64(16)) === LATENCY_HISTOGRAM_RANGE.lowestDiscernibleValue;
    if (!sameShape) {
      this.#addForeign(encoded);
      return;
    }
    const at = { offset: V2_HEADER_BYTES };
    const end = V2_HEADER_BYTES + header.getInt32(4);
    let index = 0;
    while (at.offset < end && index < COUNTS_LENGTH) {
      const count = readVarint(raw, at);
      if (count < 0) index -= count;
      else {
        this.counts[index++]! += count;
        this.total += count;
      }
    }
  }

  /** A histogram of another shape (another producer's settings): its recorded values, bucket by bucket, into ours. */
  #addForeign(encoded: Uint8Array): void {
    const foreign = hdr.decodeFromCompressedBase64(Buffer.from(encoded).toString("base64"), 32, false) as unknown as JsHistogramWithIndex;
    for (let i = 0; i < foreign.countsArrayLength; i++) {
      const count = foreign.getCountAtIndex(i);
      if (count === 0) continue;
      this.counts[indexOf(foreign.valueFromIndex(i))]! += count;
      this.total += count;
    }
  }

  /** Value (µs) under which `percentile` percent of the counts lie, as HdrHistogram reports it; 0 when empty. */
  valueAtPercentile(percentile: number): number {
    if (this.total === 0) return 0;
    const wanted = Math.max(1, Math.ceil((Math.min(percentile, 100) / 100) * this.total));
    let seen = 0;
    for (let i = 0; i < COUNTS_LENGTH; i++) {
      seen += this.counts[i]!;
      if (seen >= wanted) return highestValueAt(i);
    }
    return this.max;
  }

  get max(): number {
    for (let i = COUNTS_LENGTH - 1; i >= 0; i--) if (this.counts[i]! > 0) return highestValueAt(i);
    return 0;
  }

  get mean(): number {
    if (this.total === 0) return 0;
    let sum = 0;
    for (let i = 0; i < COUNTS_LENGTH; i++) {
      const count = this.counts[i]!;
      if (count > 0) sum += count * ((valueFromIndex(i) + highestValueAt(i) + 1) / 2);
    }
    return sum / this.total;
  }

  /** The V2 compressed encoding of these counts; empty when there are none. */
  encode(): Buffer {
    if (this.total === 0) return Buffer.alloc(0);
    let last = COUNTS_LENGTH - 1;
    while (last > 0 && this.counts[last] === 0) last--;
    const payload: number[] = [];
    for (let i = 0; i <= last;) {
      const count = this.counts[i]!;
      if (count !== 0) {
        writeVarint(payload, Math.round(count));
        i++;
        continue;
      }
      let zeros = 0;
      while (i <= last && this.counts[i] === 0) {
        zeros++;
        i++;
      }
      writeVarint(payload, zeros > 1 ? -zeros : 0);
    }
    const raw = Buffer.alloc(V2_HEADER_BYTES + payload.length);
    raw.writeInt32BE(V2_COOKIE, 0);
    raw.writeInt32BE(payload.length, 4);
    raw.writeInt32BE(1, 8);
    raw.writeInt32BE(LATENCY_HISTOGRAM_RANGE.numberOfSignificantValueDigits, 12);
    raw.writeBigInt64BE(BigInt(LATENCY_HISTOGRAM_RANGE.lowestDiscernibleValue), 16);
    raw.writeBigInt64BE(BigInt(LATENCY_HISTOGRAM_RANGE.highestTrackableValue), 24);
    raw.writeBigInt64BE(1n, 32);
    Buffer.from(payload).copy(raw, V2_HEADER_BYTES);
    const compressed = deflateSync(raw);
    const out = Buffer.alloc(8 + compressed.length);
    out.writeInt32BE(V2_COMPRESSED_COOKIE, 0);
    out.writeInt32BE(compressed.length, 4);
    compressed.copy(out, 8);
    return out;
  }
}
