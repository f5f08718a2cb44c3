import { z } from "zod";
import type { FieldViolation } from "@eas/decider";
import type { StressTaskSpec } from "@eas/proto";

/** The limits this cluster puts on any task (config), checked with the document. */
export interface TaskLimits {
  maxDurationSeconds: number;
  maxQps: number;
  maxAgentCount: number;
}

export const STRESS_MODES = ["manual", "scan", "auto", "concurrency"] as const;
export type StressMode = (typeof STRESS_MODES)[number];

/** Where the request bodies come from, as the document says (resolved by the API: a file's bytes come with the request). */
export type DataSource =
  { kind: "none" } | { kind: "content"; bytes: Buffer } | { kind: "file"; path: string } | { kind: "object"; url: string };

/** A valid task: the spec that goes into the log, and what must stay out of it. */
export interface ParsedTask {
  spec: StressTaskSpec;
  data: DataSource;
  /** The task's own token and Authorization header, kept in memory only. */
  secrets: { token: string | undefined; headers: Record<string, string> };
  /** The field that named the service, for errors about it. */
  serviceField: "service.serviceName" | "service.url";
}

export type ParseResult = { ok: true; task: ParsedTask } | { ok: false; violations: FieldViolation[] };

const positive = (what: string) => z.number({ error: `must be ${what}` }).positive({ error: `must be ${what}` });
const count = (what: string, min: number) =>
  z
    .number({ error: `must be ${what}` })
    .int({ error: `must be ${what}` })
    .min(min, { error: `must be ${what}` });

// Sections are strict: a misspelt key ("maxQps") would otherwise run the default without a word.
const documentSchema = z.strictObject(
  {
    name: z.string({ error: "must be a string" }).max(128, { error: "must be at most 128 characters" }).optional(),
    base: z.strictObject(
      {
        duration: count("a whole number of seconds >= 1", 1),
        qps: z.number({ error: "must be a number of requests per second > 0" }).optional(),
        concurrency: count("a whole number >= 1 (connections per worker)", 1).optional(),
        agentCount: count("a whole number of load workers >= 1", 1).optional(),
      },
      { error: "must be an object with duration, qps, concurrency, agentCount" },
    ),
    service: z.strictObject(
      {
        serviceName: z.string({ error: "must be a service name" }).optional(),
        url: z.string({ error: "must be a URL" }).optional(),
        token: z.string({ error: "must be a string" }).optional(),
        endpointType: z.enum(["gateway", "direct"], { error: 'must be "gateway" or "direct"' }).optional(),
        requestPath: z.string({ error: "must be a path" }).optional(),
      },
      { error: "must be an object naming serviceName (or url)" },
    ),
    data: z
      .strictObject(
        {
          content: z.string({ error: "must be a string (base64 when type is binary)" }).optional(),
          path: z.string({ error: "must be a file path or an obj:// URL" }).optional(),
          type: z.enum(["text", "binary"], { error: 'must be "text" or "binary"' }).optional(),
          multiLine: z.boolean({ error: "must be true or false" }).optional(),
        },
        { error: "must be an object with content or path" },
      )
      .optional(),
    http: z
      .strictObject(
        {
          method: z
            .enum(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"], { error: "must be GET, POST, PUT, PATCH, DELETE or HEAD" })
            .optional(),
          headers: z.record(z.string(), z.string({ error: "must be a string" }), { error: "must be an object of strings" }).optional(),
          timeout: count("a whole number of milliseconds >= 1", 1).optional(),
        },
        { error: "must be an object with method, headers, timeout" },
      )
      .optional(),
    optional: z
      .strictObject(
        {
          mode: z.enum(STRESS_MODES, { error: `must be one of ${STRESS_MODES.join(", ")}` }).optional(),
          adjustInterval: count("a whole number of seconds >= 1", 1).optional(),
          minQPS: positive("a number > 0").optional(),
          maxQPS: positive("a number > 0").optional(),
          maxRT: z
            .number({ error: "must be a number of milliseconds >= 0" })
            .min(0, { error: "must be a number of milliseconds >= 0" })
            .optional(),
          qpsGrowthDelta: positive("a number > 0").optional(),
          faultTolerate: z
            .number({ error: "must be a ratio in [0, 1]" })
            .min(0, { error: "must be a ratio in [0, 1]" })
            .max(1, { error: "must be a ratio in [0, 1]" })
            .optional(),
          faultAction: z.enum(["stop", "revise"], { error: 'must be "stop" or "revise"' }).optional(),
        },
        { error: "must be an object" },
      )
      .optional(),
  },
  { error: "must be a JSON object with base, service and, optionally, data, http and optional" },
);

/** EAS's defaults for what a task leaves out. */
export const TASK_DEFAULTS = {
  concurrency: 40,
  agentCount: 1,
  endpointType: "gateway",
  method: "POST",
  timeoutMs: 20_000,
  mode: "manual" as StressMode,
  adjustIntervalSeconds: 60,
  minQps: 100,
  maxQps: 10_000,
  qpsGrowthDelta: 50,
  faultTolerate: 0.001,
  faultAction: "stop",
} as const;

const PREDICT_PATH = /^\/api\/predict\/([^/?#]+)(\/[^?#]*)?$/;

function issuesToViolations(issues: readonly z.core.$ZodIssue[]): FieldViolation[] {
  return issues.map((issue) => {
    const path = issue.path.map(String).join(".");
    if (issue.code === "unrecognized_keys") {
      return {
        path,
        message: `unknown ${issue.keys.length === 1 ? "key" : "keys"} ${issue.keys.map((k) => JSON.stringify(k)).join(", ")}`,
      };
    }
    const missing = issue.code === "invalid_type" && (issue as { input?: unknown }).input === undefined;
    return { path, message: missing ? `is required (${issue.message.replace(/^must be /, "")})` : issue.message };
  });
}

/**
 * Reads a stress task in EAS's format (the document as is: `base`, `service`, `data`, `http`, `optional`)
 * into the spec the monitor runs and logs. Every problem is reported at once, each naming its field
 * (`base.qps: must be a number of requests per second > 0`). Pure: the service's existence, a data
 * file's and an object's are checked by the caller.
 */
export function parseStressTask(text: string, limits: TaskLimits): ParseResult {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    return { ok: false, violations: [{ path: "task", message: `is not valid JSON: ${(error as Error).message}` }] };
  }
  const parsed = documentSchema.safeParse(raw);
  if (!parsed.success) return { ok: false, violations: issuesToViolations(parsed.error.issues) };
  const doc = parsed.data;
  const violations: FieldViolation[] = [];
  const add = (path: string, message: string) => violations.push({ path, message });

  const mode = doc.optional?.mode ?? TASK_DEFAULTS.mode;
  const closedLoop = mode === "concurrency";
  const scanning = mode === "scan" || mode === "auto";

  if (doc.base.duration > limits.maxDurationSeconds)
    add("base.duration", `must be at most ${limits.maxDurationSeconds} seconds on this cluster`);
  const qps = doc.base.qps;
  if (!closedLoop && !scanning && qps === undefined) add("base.qps", "is required (requests per second, > 0)");
  if (qps !== undefined && !(qps > 0)) add("base.qps", "must be a number of requests per second > 0");
  const agentCount = doc.base.agentCount ?? TASK_DEFAULTS.agentCount;
  if (agentCount > limits.maxAgentCount) add("base.agentCount", `must be at most ${limits.maxAgentCount} on this cluster`);

  const minQps = doc.optional?.minQPS ?? (scanning && qps ? qps : TASK_DEFAULTS.minQps);
  const maxQps = doc.optional?.maxQPS ?? Math.max(TASK_DEFAULTS.maxQps, minQps);
  if (doc.optional?.maxQPS !== undefined && maxQps < minQps) {
    add(
      "optional.maxQPS",
      `must be >= optional.minQPS (${minQps})${doc.optional.minQPS === undefined ? ", which defaults to base.qps or 100" : ""}`,
    );
  }
  const highest = closedLoop ? 0 : scanning ? maxQps : (qps ?? 0);
  if (highest > limits.maxQps)
    add(scanning ? "optional.maxQPS" : "base.qps", `must be at most ${limits.maxQps} requests per second on this cluster`);

  let serviceName = doc.service.serviceName ?? "";
  let requestPath = doc.service.requestPath ?? "";
  if (doc.service.url !== undefined) {
    let path = "";
    try {
      path = new URL(doc.service.url).pathname;
    } catch {
      add("service.url", "is not a URL");
    }
    const match = PREDICT_PATH.exec(path);
    if (path && !match) {
      add(
        "service.url",
        "only services of this cluster can be targeted: give service.serviceName, or a URL ending in /api/predict/<service>",
      );
    } else if (match) {
      if (serviceName && serviceName !== match[1])
        add("service.url", `names service "${match[1]}" but service.serviceName is "${serviceName}"`);
      serviceName = match[1]!;
      if (!requestPath && match[2]) requestPath = match[2];
    }
  }
  if (!serviceName && doc.service.url === undefined) add("service.serviceName", "is required (the service under test)");
  if (requestPath && !requestPath.startsWith("/")) requestPath = `/${requestPath}`;

  const method = doc.http?.method ?? TASK_DEFAULTS.method;
  const dataType = doc.data?.type ?? "text";
  let data: DataSource = { kind: "none" };
  if (doc.data?.content !== undefined && doc.data.path !== undefined) add("data", "give content or path, not both");
  else if (doc.data?.content !== undefined) {
    const bytes =
      dataType === "binary" && !doc.data.multiLine ? Buffer.from(doc.data.content, "base64") : Buffer.from(doc.data.content, "utf8");
    data = bytes.length > 0 ? { kind: "content", bytes } : { kind: "none" };
  } else if (doc.data?.path !== undefined) {
    if (!doc.data.path.trim()) add("data.path", "is empty");
    else data = doc.data.path.startsWith("obj://") ? { kind: "object", url: doc.data.path } : { kind: "file", path: doc.data.path };
  }
  if ((method === "GET" || method === "HEAD") && data.kind !== "none")
    add("http.method", `${method} requests carry no body: remove data or use POST`);

  // Secrets stay out of the log: the token, and any Authorization header given with the task.
  const headers: Record<string, string> = {};
  const secretHeaders: Record<string, string> = {};
  for (const [name, value] of Object.entries(doc.http?.headers ?? {})) {
    if (name.toLowerCase() === "authorization") secretHeaders.authorization = value;
    else headers[name.toLowerCase()] = value;
  }

  if (violations.length > 0) return { ok: false, violations };
  const spec: StressTaskSpec = {
    name: doc.name ?? "",
    durationSeconds: doc.base.duration,
    qps: qps ?? 0,
    concurrency: doc.base.concurrency ?? TASK_DEFAULTS.concurrency,
    agentCount,
    serviceName,
    endpointType: doc.service.endpointType ?? TASK_DEFAULTS.endpointType,
    requestPath,
    tokenGiven: doc.service.token !== undefined || secretHeaders.authorization !== undefined,
    data: {
      objectUrl: data.kind === "object" ? data.url : "",
      type: dataType,
      multiLine: doc.data?.multiLine ?? false,
      sizeBytes: data.kind === "content" ? data.bytes.length : 0,
      source: data.kind === "content" ? "content" : data.kind === "file" ? data.path : data.kind === "object" ? data.url : "",
    },
    method,
    headers,
    timeoutMs: doc.http?.timeout ?? TASK_DEFAULTS.timeoutMs,
    mode,
    adjustIntervalSeconds: doc.optional?.adjustInterval ?? TASK_DEFAULTS.adjustIntervalSeconds,
    minQps: scanning ? minQps : (doc.optional?.minQPS ?? 0),
    maxQps: scanning ? maxQps : (doc.optional?.maxQPS ?? 0),
    maxRtMs: doc.optional?.maxRT ?? 0,
    qpsGrowthDelta: doc.optional?.qpsGrowthDelta ?? TASK_DEFAULTS.qpsGrowthDelta,
    faultTolerate: doc.optional?.faultTolerate ?? TASK_DEFAULTS.faultTolerate,
    faultAction: doc.optional?.faultAction ?? TASK_DEFAULTS.faultAction,
  };
  const serviceField = doc.service.serviceName === undefined ? "service.url" : "service.serviceName";
  return { ok: true, task: { spec, data, secrets: { token: doc.service.token, headers: secretHeaders }, serviceField } };
}
