import { DeliverPolicy, type JetStreamClient, type JetStreamManager } from "@nats-io/jetstream";
import type { KV, KvWatchEntry, Kvm } from "@nats-io/kv";
import { headers as natsHeaders } from "@nats-io/transport-node";
import {
  AsyncRequestHeader,
  AsyncResultState,
  asyncQueueLayout,
  decodeAsyncResult,
  isOutcome,
  type AsyncQueueLayout,
} from "@eas/contracts";
import type { AsyncResult } from "@eas/proto";
import type { Logger } from "@eas/telemetry";
import {
  addCount,
  lineStatus,
  linesPerSecond,
  nextRun,
  noCounts,
  outputLine,
  readInputLine,
  totalCounted,
  type BatchCounts,
  type LineOutcome,
  type LineStatus,
} from "../domain/batch-lines.js";
import { BATCH_OUTPUT_STREAM, batchOutputSubject } from "../queues/topology.js";
import type { BatchFiles, BatchLocation } from "./batch-io.js";

/** A job as its runner needs it. */
export interface BatchJobSpec {
  readonly jobId: string;
  readonly service: string;
  readonly input: BatchLocation;
  readonly output: BatchLocation;
  readonly totalLines: number;
  /** Submitted just now by this process: nothing of it can have been queued before, lines need no look-up. */
  readonly fresh: boolean;
}

export interface BatchRunnerDeps {
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  readonly kvm: Kvm;
  readonly files: BatchFiles;
  /** Lines queued and not yet committed at most. */
  readonly window: number;
  /** Wall clock, Unix ms. */
  readonly clock: () => number;
  readonly logger: Logger;
}

/** How a runner ended. */
export type BatchEnd =
  | { readonly kind: "completed"; readonly counts: BatchCounts }
  | { readonly kind: "failed"; readonly reason: string }
  | { readonly kind: "stopped" };

/** Headers of a staged chunk of outputs: the last line it holds and the counts up to it. */
const Staged = {
  through: "Eas-Batch-Through",
  ok: "Eas-Batch-Ok",
  error: "Eas-Batch-Error",
  failed: "Eas-Batch-Failed",
  invalid: "Eas-Batch-Invalid",
} as const;
const CHUNK_LINES = 500;
const CHUNK_BYTES = 256 * 1024;
const QUEUE_FULL = 10077;
const PUBLISHES_AT_ONCE = 64;

/**
 * Runs one batch job (ADR 0031). Every input line goes through the service's queue as request `<job id>.<line>`
 * (lines that are not JSON get their error at once); outcomes come back through a watch of the service's results,
 * and are committed to the job's staging subject in input order, a chunk at a time, each append conditional on the
 * one before (so no chunk is written twice). The staging is the job's progress: a runner that starts again reads
 * where it stopped, looks up the lines it may have queued already, and goes on. Once every line is committed the
 * output is written whole from the staging, in order.
 */
export class BatchRunner {
  readonly job: BatchJobSpec;
  readonly #deps: BatchRunnerDeps;
  readonly #layout: AsyncQueueLayout;
  readonly #log: Logger;
  /** Outputs of lines at or after {@link #next}, waiting for the lines before them, and their statuses. */
  readonly #ready = new Map<number, string>();
  readonly #readyStatus = new Map<number, LineStatus>();
  /** Counts of the committed lines. */
  #committed: BatchCounts = noCounts();
  readonly #samples: { at: number; done: number }[] = [];
  /** The first line not committed yet, and the staging subject's last sequence (0: none). */
  #next = 1;
  #lastSeq = 0;
  #stopping = false;
  readonly #sleepers = new Set<() => void>();
  #watcher: { stop(): void } | undefined;
  #run: Promise<BatchEnd> | undefined;

  constructor(job: BatchJobSpec, deps: BatchRunnerDeps) {
    this.job = job;
    this.#deps = deps;
    this.#layout = asyncQueueLayout(job.service);
    this.#log = deps.logger.child({ job: job.jobId, service: job.service });
  }

  /** Starts (or resumes) the job; resolves with how it ended. */
  start(): Promise<BatchEnd> {
    this.#run ??= this.#execute().finally(() => this.#watcher?.stop());
    return this.#run;
  }

  /** Stops the runner without changing the job (a process stopping, or the job cancelled). */
  async stop(): Promise<void> {
    this.#stopping = true;
    this.#watcher?.stop();
    this.#wake();
    await this.#run;
  }

  /** Removes what a cancelled job left: its queued lines and its staging. */
  async discard(): Promise<void> {
    await this.stop();
    await this.#deps.jsm.streams
      .purge(this.#layout.stream, { filter: `${this.#layout.subjects.slice(0, -1)}*.${this.job.jobId}.>` })
      .catch(() => undefined);
    await this.#deps.jsm.streams.purge(BATCH_OUTPUT_STREAM, { filter: batchOutputSubject(this.job.jobId) }).catch(() => undefined);
  }

  /** Lines with an outcome, by status, and the recent pace. */
  progress(): { done: number; counts: BatchCounts; linesPerSecond: number } {
    let counts = this.#committed;
    for (const status of this.#readyStatus.values()) counts = addCount(counts, status);
    return { done: totalCounted(counts), counts, linesPerSecond: linesPerSecond(this.#samples, 10_000, this.#deps.clock()) };
  }

  async #execute(): Promise<BatchEnd> {
    await this.#resume();
    if (this.#next <= this.job.totalLines) {
      const results = await this.#deps.kvm.open(this.#layout.resultsBucket);
      await this.#watchResults(results);
      const submitted = this.#submitLines(results);
      const committed = this.#commitLoop();
      const problem = await submitted;
      if (problem) {
        this.#stopping = true;
        this.#wake();
        await committed;
        return { kind: "failed", reason: problem };
      }
      await committed;
      if (this.#stopping) return { kind: "stopped" };
    }
    await this.#writeOutput();
    await this.#deps.jsm.streams.purge(BATCH_OUTPUT_STREAM, { filter: batchOutputSubject(this.job.jobId) }).catch(() => undefined);
    return { kind: "completed", counts: this.#committed };
  }

  /** Where the staging says the job stands. */
  async #resume(): Promise<void> {
    const last = await this.#deps.jsm.direct.getMessage(BATCH_OUTPUT_STREAM, { last_by_subj: batchOutputSubject(this.job.jobId) });
    if (!last) return;
    const header = (name: string) => Number(last.header.get(name)) || 0;
    this.#next = header(Staged.through) + 1;
    this.#lastSeq = last.seq;
    this.#committed = {
      ok: header(Staged.ok),
      error: header(Staged.error),
      failed: header(Staged.failed),
      invalid: header(Staged.invalid),
    };
    this.#log.info({ next: this.#next, total: this.job.totalLines }, "batch job resumed from its staged outputs");
  }

  /** Outcomes of this job's lines, those stored already first, then as they are stored. */
  async #watchResults(results: KV): Promise<void> {
    const watcher = await results.watch({ key: `${this.job.jobId}.>` });
    this.#watcher = watcher;
    void (async () => {
      for await (const entry of watcher as AsyncIterable<KvWatchEntry>) {
        if (entry.operation !== "PUT") continue;
        const line = lineOf(entry.key);
        if (line === undefined || line < this.#next || this.#ready.has(line)) continue;
        const result = decodeAsyncResult(entry.value);
        if (!isOutcome(result)) continue;
        this.#accept(line, outcomeOf(result));
      }
    })().catch((error: unknown) => this.#log.warn({ err: String(error) }, "results watch ended"));
  }

  #accept(line: number, outcome: LineOutcome): void {
    if (line < this.#next || this.#ready.has(line)) return;
    this.#ready.set(line, outputLine(line, outcome));
    this.#readyStatus.set(line, lineStatus(outcome));
    this.#wake();
  }

  /**
   * Queues every line from the first uncommitted one, at most `window` ahead of the commits. Lines within a window
   * of the resume point may have been queued before a restart: each is looked up first and queued only when it has
   * neither an outcome nor a place in the queue. Returns why the job cannot go on, if it cannot.
   */
  async #submitLines(results: KV): Promise<string | undefined> {
    const resumedAt = this.#next;
    let line = 0;
    const publishing = new Set<Promise<void>>();
    let failure: unknown;
    for await (const text of this.#deps.files.lines(this.job.input)) {
      line++;
      if (line < resumedAt) continue;
      if (line > this.job.totalLines) break;
      while (!this.#stopping && line >= this.#next + this.#deps.window) await this.#sleepUntilWoken(1_000);
      if (this.#stopping) return undefined;
      if (failure) throw failure;
      const input = readInputLine(text);
      if (input.kind === "invalid") {
        this.#accept(line, input);
        continue;
      }
      if (this.#ready.has(line)) continue;
      const lineNumber = line;
      const publish = (async () => {
        if (!this.job.fresh && lineNumber < resumedAt + this.#deps.window && (await this.#knownToQueue(results, lineNumber))) return;
        await this.#queueLine(lineNumber, input.body);
      })().catch((error: unknown) => {
        failure ??= error;
      });
      publishing.add(publish);
      void publish.finally(() => publishing.delete(publish));
      if (publishing.size >= PUBLISHES_AT_ONCE) await Promise.race(publishing);
    }
    await Promise.all(publishing);
    if (failure) throw failure;
    if (!this.#stopping && line < this.job.totalLines) {
      return `the input has ${line} lines now, ${this.job.totalLines} when the job was submitted`;
    }
    return undefined;
  }

  /** Whether line `line` has an outcome or is in the queue (stored outcome, queue, outcome again: see the gateway's lookup). */
  async #knownToQueue(results: KV, line: number): Promise<boolean> {
    const id = `${this.job.jobId}.${line}`;
    const stored = async () => {
      const entry = await results.get(id);
      if (!entry || entry.operation !== "PUT") return false;
      const result = decodeAsyncResult(entry.value);
      if (isOutcome(result)) this.#accept(line, outcomeOf(result));
      return true;
    };
    if (await stored()) return true;
    const queued = await this.#deps.jsm.direct.getMessage(this.#layout.stream, { last_by_subj: this.#layout.requestSubject(id, false) });
    if (queued) return true;
    return stored();
  }

  async #queueLine(line: number, body: string): Promise<void> {
    const id = `${this.job.jobId}.${line}`;
    const headers = natsHeaders();
    headers.set(AsyncRequestHeader.requestId, id);
    headers.set(AsyncRequestHeader.method, "POST");
    headers.set(AsyncRequestHeader.path, "/");
    headers.set(AsyncRequestHeader.headers, JSON.stringify([["content-type", "application/json"]]));
    headers.set(AsyncRequestHeader.submittedAt, String(this.#deps.clock()));
    for (;;) {
      try {
        await this.#deps.js.publish(this.#layout.requestSubject(id, false), body, {
          msgID: id,
          headers,
          expect: { streamName: this.#layout.stream },
        });
        return;
      } catch (error) {
        if (this.#stopping) return;
        // A full queue (other clients' requests too) or a JetStream hiccup: wait and try again.
        if ((error as { code?: unknown }).code !== QUEUE_FULL)
          this.#log.warn({ line, err: String(error) }, "queueing a line failed; retrying");
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    }
  }

  /** Commits the outputs in input order until every line is committed (or the runner stops). */
  async #commitLoop(): Promise<void> {
    while (!this.#stopping && this.#next <= this.job.totalLines) {
      const run = nextRun(this.#next, this.#ready, CHUNK_LINES, CHUNK_BYTES);
      if (run.length === 0) {
        await this.#sleepUntilWoken(1_000);
        continue;
      }
      await this.#commit(run);
    }
  }

  async #commit(run: string[]): Promise<void> {
    const first = this.#next;
    const through = first + run.length - 1;
    let counts = this.#committed;
    for (let line = first; line <= through; line++) counts = addCount(counts, this.#readyStatus.get(line) ?? "invalid");
    const headers = natsHeaders();
    headers.set(Staged.through, String(through));
    headers.set(Staged.ok, String(counts.ok));
    headers.set(Staged.error, String(counts.error));
    headers.set(Staged.failed, String(counts.failed));
    headers.set(Staged.invalid, String(counts.invalid));
    // Conditional on the chunk before: a chunk is never staged twice, nor out of order.
    const ack = await this.#deps.js.publish(batchOutputSubject(this.job.jobId), `${run.join("\n")}\n`, {
      headers,
      msgID: `${this.job.jobId}:${first}`,
      expect: { lastSubjectSequence: this.#lastSeq },
    });
    this.#lastSeq = ack.seq;
    this.#committed = counts;
    for (let line = first; line <= through; line++) {
      this.#ready.delete(line);
      this.#readyStatus.delete(line);
    }
    this.#next = through + 1;
    const now = this.#deps.clock();
    this.#samples.push({ at: now, done: totalCounted(counts) });
    while (this.#samples.length > 0 && (this.#samples[0]?.at ?? now) < now - 30_000) this.#samples.shift();
    this.#wake();
  }

  /** Writes the output from the staging, chunk by chunk, in order. */
  async #writeOutput(): Promise<void> {
    const consumer = await this.#deps.js.consumers.get(BATCH_OUTPUT_STREAM, {
      filter_subjects: batchOutputSubject(this.job.jobId),
      deliver_policy: DeliverPolicy.All,
    });
    const lastSeq = this.#lastSeq;
    const chunks = async function* (): AsyncGenerator<Uint8Array> {
      if (lastSeq === 0) return;
      const messages = await consumer.consume();
      try {
        for await (const msg of messages) {
          yield msg.data;
          if (msg.seq >= lastSeq) break;
        }
      } finally {
        messages.stop();
      }
    };
    await this.#deps.files.write(this.job.output, chunks(), this.job.jobId);
    this.#log.info({ output: this.job.output.url, lines: this.job.totalLines }, "batch output written");
  }

  /** Resolves when something changed (an outcome arrived, a chunk was committed, a stop) or after `maxMs`. */
  #sleepUntilWoken(maxMs: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.#sleepers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, maxMs);
      this.#sleepers.add(wake);
    });
  }

  #wake(): void {
    for (const wake of [...this.#sleepers]) wake();
  }
}

function lineOf(key: string): number | undefined {
  const dot = key.lastIndexOf(".");
  const line = Number(key.slice(dot + 1));
  return Number.isInteger(line) && line > 0 ? line : undefined;
}

function outcomeOf(result: AsyncResult): LineOutcome {
  if (result.state === AsyncResultState.done) return { kind: "answered", code: result.statusCode, body: result.body };
  return { kind: "failed", error: result.error, attempts: result.attempts };
}
