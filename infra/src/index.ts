export { startLocalCluster, CONTROL_PLANE } from "./local-cluster.js";
export type { LocalCluster, LocalClusterOptions, AgentOptions, ServiceProcess, ControlPlaneService } from "./local-cluster.js";
