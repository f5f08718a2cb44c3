import { credentials, Metadata, status, type ServiceError } from "@grpc/grpc-js";
import { ServiceManagerClient, type ServiceInfo } from "@eas/proto";

/** How the autoscaler changes a replica count: the deployer's ScaleService (ADR 0014). */
export interface ReplicaSetter {
  /** Asks for an absolute count; resolves with the count the deployer holds afterwards. */
  scale(service: string, replicas: number, cause: "autoscaler" | "cron", reason: string): Promise<number>;
  close(): void;
}

const RETRYABLE = new Set([status.UNAVAILABLE, status.ABORTED, status.DEADLINE_EXCEEDED]);

/**
 * The deployer's ServiceManager at `address`. Retries UNAVAILABLE, ABORTED and DEADLINE_EXCEEDED a few
 * times with back-off; an absolute count makes a retry harmless (the deployer writes nothing when the count
 * is already the one asked for). Other errors (the service was deleted, a user scale refused) are thrown.
 */
export function createDeployerReplicaSetter(address: string, options: { attempts?: number; deadlineMs?: number } = {}): ReplicaSetter {
  const client = new ServiceManagerClient(address, credentials.createInsecure());
  const attempts = options.attempts ?? 4;
  const deadlineMs = options.deadlineMs ?? 5_000;
  const once = (service: string, replicas: number, cause: string, reason: string) =>
    new Promise<ServiceInfo>((resolve, reject) => {
      client.scaleService(
        { name: service, replicas, cause, reason },
        new Metadata(),
        { deadline: Date.now() + deadlineMs },
        (error: ServiceError | null, info?: ServiceInfo) => (error || !info ? reject(error ?? new Error("no answer")) : resolve(info)),
      );
    });
  return {
    async scale(service, replicas, cause, reason) {
      for (let attempt = 1; ; attempt++) {
        try {
          return (await once(service, replicas, cause, reason)).desiredInstances;
        } catch (error) {
          const code = (error as Partial<ServiceError>).code;
          if (attempt >= attempts || code === undefined || !RETRYABLE.has(code)) throw error;
          await new Promise((resolve) => setTimeout(resolve, 100 * 3 ** (attempt - 1)));
        }
      }
    },
    close: () => client.close(),
  };
}
