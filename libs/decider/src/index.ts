export type { Decider } from "./decider.js";
export { foldEvents } from "./decider.js";
export { DomainError, ValidationError, NotFoundError, AlreadyExistsError, PreconditionFailedError } from "./errors.js";
export type { FieldViolation } from "./errors.js";
