export type { Projection, CheckpointStore, Checkpoint } from "./projection.js";
export { InMemoryCheckpointStore } from "./projection.js";
export { createProjectionRunner, ProjectionLagError } from "./runner.js";
export type { ProjectionRunner, ProjectionRunnerOptions, ProjectionStatus } from "./runner.js";
