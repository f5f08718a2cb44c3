/** Machine-readable codes of {@link RequestError}, also sent to clients in the `code` field. */
export const RequestErrorCode = {
  BadJson: "bad_json",
  BadRequest: "bad_request",
  UnknownInput: "unknown_input",
  MissingInput: "missing_input",
  UnknownOutput: "unknown_output",
  WrongDatatype: "wrong_datatype",
  UnsupportedDatatype: "unsupported_datatype",
  WrongShape: "wrong_shape",
  WrongData: "wrong_data",
  ModelNotFound: "model_not_found",
  NotFound: "not_found",
  MethodNotAllowed: "method_not_allowed",
  BodyTooLarge: "body_too_large",
  NotReady: "not_ready",
} as const;

/** One of the {@link RequestErrorCode} values. */
export type RequestErrorCode = (typeof RequestErrorCode)[keyof typeof RequestErrorCode];

/**
 * A request the processor refuses, with the HTTP status to answer and a message naming
 * the problem (which input, which shape, which datatype). Never retryable as is, except
 * `not_ready` (503).
 */
export class RequestError extends Error {
  override readonly name = "RequestError";
  constructor(
    readonly status: number,
    readonly code: RequestErrorCode,
    message: string,
  ) {
    super(message);
  }

  /** The JSON body sent to the client: the Open Inference Protocol's `{error}`, plus `code`. */
  toJSON(): { error: string; code: RequestErrorCode } {
    return { error: this.message, code: this.code };
  }
}

/** A 400 error for a malformed or incompatible request. */
export function badRequest(code: RequestErrorCode, message: string): RequestError {
  return new RequestError(400, code, message);
}

/** The model could not be found or loaded at start; the processor cannot serve. */
export class ModelLoadError extends Error {
  override readonly name = "ModelLoadError";
  constructor(
    message: string,
    /** The path that was tried. */
    readonly path: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** `EAS_PROCESSOR_CONFIG` is not a JSON object or holds an invalid value. */
export class OnnxConfigError extends Error {
  override readonly name = "OnnxConfigError";
  constructor(
    message: string,
    /** The offending key, when one is to blame. */
    readonly key?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
