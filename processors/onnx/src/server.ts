import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { drainHttpServer, listenOn, silentLogger, type Logger } from "@eas/processor-kit";
import { DEFAULT_ONNX_CONFIG, type OnnxConfig } from "./config.js";
import { ModelLoadError, RequestError, RequestErrorCode } from "./errors.js";
import { loadOnnxModel, type InferenceModel } from "./model.js";
import { decodePredictRequest, encodePredictions } from "./predict.js";
import { decodeInferRequest, encodeInferResponse, modelMetadata } from "./v2.js";

/** Options of {@link createOnnxServer}. */
export interface OnnxServerOptions {
  /** A `.onnx` file, or a folder holding `model.onnx` (or exactly one `.onnx` file). */
  readonly modelPath: string;
  /** The name served under `/v2/models/{name}` (default "model"). */
  readonly modelName?: string;
  /** The one model version served (default "1"). */
  readonly modelVersion?: string;
  /** Runtime and request limits; missing keys take {@link DEFAULT_ONNX_CONFIG}. */
  readonly config?: Partial<OnnxConfig>;
  /** How long {@link OnnxServer.close} waits for in-flight requests before cutting connections. */
  readonly drainTimeoutMs?: number;
  /** Where load and request failures are logged. */
  readonly logger?: Logger;
}

/** A running (or startable) onnx processor. */
export interface OnnxServer {
  /**
   * Binds the socket, then loads the model (`/v2/health/ready` answers 503 meanwhile);
   * resolves once the model serves. Rejects with {@link ModelLoadError} when it cannot load.
   */
  listen(port: number, host?: string): Promise<{ port: number; host: string }>;
  /** Graceful stop: not ready, refuses new connections, finishes in-flight requests, frees the session. */
  close(): Promise<void>;
}

/** Package version reported by `GET /v2`. */
const SERVER_VERSION = "0.1.0";

function send(res: ServerResponse, status: number, body: unknown, closing: boolean, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  if (closing) res.shouldKeepAlive = false;
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text), ...headers });
  res.end(text);
}

/** A parsed route: what to do, and for model routes the model name and version in the path. */
type Route =
  | { kind: "server-metadata" | "live" | "ready" | "predict" }
  | { kind: "model-metadata" | "model-ready" | "infer"; model: string; version: string | undefined }
  | { kind: "not-found" };

const METHODS: Readonly<Record<Route["kind"], string>> = {
  "server-metadata": "GET",
  live: "GET",
  ready: "GET",
  predict: "POST",
  "model-metadata": "GET",
  "model-ready": "GET",
  infer: "POST",
  "not-found": "",
};

function route(path: string): Route {
  if (path === "/" || path === "/predict") return { kind: "predict" };
  if (path === "/v2" || path === "/v2/") return { kind: "server-metadata" };
  if (path === "/v2/health/live" || path === "/livez") return { kind: "live" };
  if (path === "/v2/health/ready" || path === "/healthz") return { kind: "ready" };
  const match = /^\/v2\/models\/([^/]+)(?:\/versions\/([^/]+))?(\/ready|\/infer)?\/?$/.exec(path);
  if (match === null) return { kind: "not-found" };
  let model: string;
  let version: string | undefined;
  try {
    model = decodeURIComponent(match[1] as string);
    version = match[2] === undefined ? undefined : decodeURIComponent(match[2]);
  } catch {
    return { kind: "not-found" };
  }
  const kind = match[3] === "/infer" ? "infer" : match[3] === "/ready" ? "model-ready" : "model-metadata";
  return { kind, model, version };
}

/**
 * Creates the onnx processor: serves one ONNX model over the Open Inference Protocol v2
 * REST API, plus a plain `{"instances": rows}` JSON API on `POST /` and `POST /predict`.
 */
export function createOnnxServer(options: OnnxServerOptions): OnnxServer {
  const config: OnnxConfig = { ...DEFAULT_ONNX_CONFIG, ...options.config };
  const modelName = options.modelName ?? "model";
  const logger = options.logger ?? silentLogger;
  const drainTimeoutMs = options.drainTimeoutMs ?? 30_000;
  let model: InferenceModel | undefined;
  let closing = false;
  let closed: Promise<void> | undefined;

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (error instanceof RequestError) {
        if (error.status === 413) res.shouldKeepAlive = false;
        send(res, error.status, error, closing);
        return;
      }
      logger("error", "request failed", { error: error instanceof Error ? error.message : String(error), path: req.url });
      if (res.headersSent) res.destroy();
      else
        send(res, 500, { error: `inference failed: ${error instanceof Error ? error.message : String(error)}`, code: "internal" }, closing);
    });
  });

  async function readJson(req: IncomingMessage): Promise<unknown> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > config.maxBodyBytes) {
        throw new RequestError(413, RequestErrorCode.BodyTooLarge, `request body exceeds ${config.maxBodyBytes} bytes`);
      }
      chunks.push(chunk as Buffer);
    }
    const text = Buffer.concat(chunks, size).toString("utf8");
    try {
      return JSON.parse(text);
    } catch (error) {
      throw new RequestError(400, RequestErrorCode.BadJson, `request body is not valid JSON: ${(error as Error).message}`);
    }
  }

  function servingModel(): InferenceModel {
    if (model === undefined || closing) {
      throw new RequestError(503, RequestErrorCode.NotReady, closing ? "server is shutting down" : "model is loading");
    }
    return model;
  }

  function modelFor(name: string, version: string | undefined): InferenceModel {
    const current = servingModel();
    if (name !== current.name) {
      throw new RequestError(404, RequestErrorCode.ModelNotFound, `model '${name}' not found; this server serves '${current.name}'`);
    }
    if (version !== undefined && version !== current.version) {
      throw new RequestError(
        404,
        RequestErrorCode.ModelNotFound,
        `model '${name}' has no version '${version}'; served version is '${current.version}'`,
      );
    }
    return current;
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = req.url ?? "/";
    const query = url.indexOf("?");
    const path = query === -1 ? url : url.slice(0, query);
    const target = route(path);
    if (target.kind === "not-found") throw new RequestError(404, RequestErrorCode.NotFound, `no route for ${req.method} ${path}`);
    const method = METHODS[target.kind];
    if (req.method !== method && !(method === "GET" && req.method === "HEAD")) {
      res.setHeader("allow", method);
      throw new RequestError(405, RequestErrorCode.MethodNotAllowed, `${path} accepts ${method}, not ${req.method}`);
    }
    switch (target.kind) {
      case "server-metadata":
        send(res, 200, { name: "eas-onnx-processor", version: SERVER_VERSION, extensions: [] }, closing);
        return;
      case "live":
        send(res, 200, { live: true }, closing);
        return;
      case "ready": {
        const ready = model !== undefined && !closing;
        send(res, ready ? 200 : 503, { ready }, closing);
        return;
      }
      case "model-metadata":
        send(res, 200, modelMetadata(modelFor(target.model, target.version)), closing);
        return;
      case "model-ready": {
        const current = modelFor(target.model, target.version);
        send(res, 200, { name: current.name, ready: true }, closing);
        return;
      }
      case "infer": {
        const current = modelFor(target.model, target.version);
        const request = decodeInferRequest(await readJson(req), current);
        const outputs = await current.run(request.inputs, request.outputs);
        send(res, 200, encodeInferResponse(current, request.id, outputs), closing);
        return;
      }
      case "predict": {
        const current = servingModel();
        const input = decodePredictRequest(await readJson(req), current);
        const outputs = await current.run(
          [input],
          current.outputs.map((spec) => spec.name),
        );
        send(res, 200, encodePredictions(current, outputs), closing);
        return;
      }
    }
  }

  async function shutdown(): Promise<void> {
    closing = true;
    if (server.listening) {
      await drainHttpServer(server, { timeoutMs: drainTimeoutMs, logger });
    }
    const loaded = model;
    model = undefined;
    await loaded?.release();
  }

  return {
    async listen(port, host = "127.0.0.1") {
      const address = await listenOn(server, port, host, "onnx");
      try {
        const loaded = await loadOnnxModel(options.modelPath, { name: modelName, version: options.modelVersion, config });
        if (closing) {
          await loaded.release();
        } else {
          model = loaded;
          logger("info", "model loaded", {
            model: loaded.name,
            inputs: loaded.inputs,
            outputs: loaded.outputs,
            classes: loaded.classes,
          });
        }
      } catch (error) {
        await new Promise<void>((resolve) => server.close(() => resolve()));
        if (error instanceof ModelLoadError) throw error;
        throw new ModelLoadError(`cannot load model: ${(error as Error).message}`, options.modelPath, { cause: error });
      }
      return address;
    },
    close() {
      closed ??= shutdown();
      return closed;
    },
  };
}
