import {
  Server,
  ServerCredentials,
  type handleUnaryCall,
  type ServerUnaryCall,
  type ServiceDefinition,
  type UntypedServiceImplementation,
} from "@grpc/grpc-js";
import type { Logger } from "@eas/telemetry";
import { isUnexpectedError, toServiceError } from "./grpc-errors.js";

/** Adapts an async handler to grpc-js's callback style, mapping thrown errors in one place. */
export function unary<Req, Res>(
  logger: Logger,
  handler: (request: Req, call: ServerUnaryCall<Req, Res>) => Promise<Res>,
): handleUnaryCall<Req, Res> {
  return (call, callback) => {
    handler(call.request, call).then(
      (response) => callback(null, response),
      (error: unknown) => {
        if (isUnexpectedError(error)) logger.error({ err: error, method: call.getPath() }, "gRPC handler failed");
        callback(toServiceError(error));
      },
    );
  };
}

export interface GrpcServerHandle {
  readonly port: number;
  /** Stops accepting new calls and waits for in-flight ones, forcing after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

/** Binds a grpc-js server with the given services. */
export async function startGrpcServer(
  services: { definition: ServiceDefinition; implementation: UntypedServiceImplementation }[],
  host: string,
  port: number,
): Promise<GrpcServerHandle> {
  const server = new Server({ "grpc.max_receive_message_length": 16 * 1024 * 1024 });
  for (const { definition, implementation } of services) server.addService(definition, implementation);
  const boundPort = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${host}:${port}`, ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound))),
  );
  return {
    port: boundPort,
    async stop(graceMs = 5_000) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, graceMs);
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    },
  };
}
