import { credentials, status, type ServiceError } from "@grpc/grpc-js";
import { ServiceManagerClient, unaryCall, type ServiceInfo } from "@eas/proto";

/** What stress tests need of the deployer: the service under test (with its token), and their worker services. */
export interface DeployerPort {
  /** The service, or undefined when the deployer does not know it. */
  getService(name: string): Promise<ServiceInfo | undefined>;
  /** Creates a service from a service.json document. */
  createService(specJson: string): Promise<ServiceInfo>;
  /** Deletes a service; one already gone is fine. */
  deleteService(name: string): Promise<void>;
  close(): void;
}

const isGrpcError = (error: unknown, code: status) => (error as Partial<ServiceError>).code === code;

/** The deployer's ServiceManager API over gRPC (a service talks to another only through its API). */
export function createDeployerClient(address: string): DeployerPort {
  const client = new ServiceManagerClient(address, credentials.createInsecure());
  return {
    async getService(name) {
      try {
        return await unaryCall(client, client.getService, { name }, 10_000);
      } catch (error) {
        if (isGrpcError(error, status.NOT_FOUND)) return undefined;
        throw error;
      }
    },
    createService: (spec) => unaryCall(client, client.createService, { spec }, 15_000),
    async deleteService(name) {
      try {
        await unaryCall(client, client.deleteService, { name }, 15_000);
      } catch (error) {
        if (!isGrpcError(error, status.NOT_FOUND)) throw error;
      }
    },
    close: () => client.close(),
  };
}
