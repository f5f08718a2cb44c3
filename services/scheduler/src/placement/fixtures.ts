/*
 * Builders for the placement unit tests. Not part of the public surface
 * (not re-exported from index.ts).
 */
import { resources } from "../nodes/fixtures.js";
import type { PlacementRequest } from "./types.js";

/** Request shorthand: resources as flat numbers. */
export interface RequestSpec extends Partial<Omit<PlacementRequest, "resources">> {
  readonly cpu?: number;
  readonly memory?: number;
  readonly gpu?: number;
  readonly gpuType?: string;
  readonly gpuMemoryGib?: number;
}

export function request(spec: RequestSpec = {}): PlacementRequest {
  const { cpu, memory, gpu, gpuType, gpuMemoryGib, ...rest } = spec;
  return {
    instanceId: "i-new",
    service: "svc",
    version: 1,
    resources: resources({
      cpuMillis: cpu ?? 0,
      memoryMib: memory ?? 0,
      gpu: gpu ?? 0,
      gpuType: gpuType ?? "",
      gpuMemoryGib: gpuMemoryGib ?? 0,
    }),
    resourceGroup: "",
    resourceBurstable: false,
    spotAllowed: false,
    maxSpotPrice: 0,
    ...rest,
  };
}
